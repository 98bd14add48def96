"""ExecuTorch builds of the fp32 model, lowered to the XNNPACK delegate, and their runner.

Both builds start from the fp32 torch module (`ptq_helpers.backends.pytorch.torch_graph.torch_module`: the user's .pt2
program, or the onnx2torch module of the ONNX file):
`et-fp32` is that module exported with `torch.export` and lowered with `to_edge_transform_and_lower(...,
partitioner=[XnnpackPartitioner()])`; `et-int8-xnnpack` is first quantized with PT2E (torchao `prepare_pt2e` with
ExecuTorch's `XNNPACKQuantizer`, per-channel symmetric int8 weights and per-tensor int8 activations, calibrated on
the suite's draw, `convert_pt2e`), then exported and lowered the same way; `et-int8-xnnpack-linear` first rewrites
the ONNX MatMul as `F.linear` (`matmul_as_linear`), the form the quantizer annotates. The `.pte` is the program's
buffer.

Shapes: the program is exported with a static input of one image (1, 32, 32, 3), or (1, 3, 32, 32), and the runner
executes the images one at a time: the fastest per image, no padding, one program for every batch size (a dynamic
batch dim does not work; the measurements are in docs/frameworks.md, ExecuTorch).

Threads: XNNPACK runs on ExecuTorch's process-wide threadpool; the runner sets it to the run's thread count
with the pybindings' `_unsafe_reset_threadpool(threads)` (marked experimental), which is what the
portable_lib-backed `executorch.runtime.Runtime` uses.

Builds run in the test process: the same inputs gave a byte-identical .pte in one process after other exports and
in a fresh process (tests/selftest/test_executorch.py keeps it so), so no child process is needed. ExecuTorch's C++
runtime logs a few lines to stderr when it loads (cpuinfo, threadpool); they are not warnings.

Executed precision (`runtime_facts`, with the reader in `ptq_helpers.backends.executorch.pte`) is read from the built
`.pte` itself: the program's execution plan
(operators run outside any delegate, and the delegate calls) and each XnnpackBackend payload decoded with the
XNNPACK flatbuffer schema shipped in the wheel (`flatc`, also from the wheel): the node types and the datatypes
of their values.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptq_helpers.backends.executorch.pte import executed_layers, named, quiet_executorch
from ptq_helpers.data.calibration import CALIBRATION_BATCH
from ptq_helpers.results.executed import Executed
from ptq_helpers.matrix.cases import Case, Format, Framework, SizeKind


@dataclass(frozen=True)
class ExecuTorchQuant:
    """PT2E with ExecuTorch's XNNPACKQuantizer (`get_symmetric_quantization_config`)."""

    per_channel: bool = True  # int8 weights per output channel (else per tensor); activations int8 per tensor
    # The quantizer annotates F.linear, not torch.matmul (onnx2torch's MatMul): rewrite a MatMul by a constant
    # 2-D weight (and the bias Add that follows it) as F.linear (fp32 outputs agree to ~1e-6), so the fully
    # connected layer is int8 too.
    matmul_as_linear: bool = False


FRAMEWORK = Framework("executorch", "ExecuTorch", "et", source="torch",
                      build="ptq_helpers.backends.executorch.backend:build_int8",
                      build_fp32="ptq_helpers.backends.executorch.backend:build_fp32",
                      run="ptq_helpers.backends.executorch.backend:runner",
                      size_kind=SizeKind("pte", ".pte file (vs the fp32 .pte)", 55.0),
                      needs=(("executorch", "executorch"),),
                      libraries=("executorch", "torch", "torchao", "onnx2torch", "onnx"),
                      code=("ptq_helpers.backends.pytorch.torch_graph", "ptq_helpers.backends.executorch.pte"),
                      runtime_facts="ptq_helpers.backends.executorch.backend:runtime_facts",
                      tools="ExecuTorch: the onnx2torch module quantized with PT2E (torchao `prepare_pt2e`/"
                            "`convert_pt2e`, `XNNPACKQuantizer` with per-channel symmetric int8 weights, every "
                            "calibration image), exported with `torch.export` at batch 1 and lowered with "
                            "`to_edge_transform_and_lower` to the XNNPACK delegate (.pte), run by the ExecuTorch "
                            "runtime's Python bindings one image per call")
FORMATS = {"pte": Format("pte", "ExecuTorch program (.pte, XNNPACK delegate)")}

EXAMPLE_BATCH = 1  # the program's static input: one image, in the model's own layout



def _lower(module, dest: Path, shape: tuple[int, ...]) -> None:
    """torch.export at the static example shape, lowered to XNNPACK, written as a .pte."""
    import torch

    with quiet_executorch():
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        example = (torch.zeros(shape),)
        program = torch.export.export(module, example)
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
        buffer = lowered.buffer
    dest.write_bytes(buffer)


def build_fp32(source: Path, dest: Path) -> None:
    """The fp32 torch module (the .pt2's, or onnx2torch's), exported and lowered to XNNPACK in fp32."""
    from ptq_helpers.backends.pytorch.torch_graph import input_shape, torch_module

    _lower(torch_module(source), dest, input_shape(source, EXAMPLE_BATCH))


def xnnpack_quantize(module, q: ExecuTorchQuant, calibration: np.ndarray):
    """torch.export (dynamic batch, for calibration in batches) -> prepare_pt2e(XNNPACKQuantizer) -> calibrate
    -> convert_pt2e."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    with quiet_executorch():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

    example = (torch.from_numpy(calibration[:2]),)
    graph = torch.export.export(module, example, dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=q.per_channel))
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for i in range(0, len(calibration), CALIBRATION_BATCH):
            prepared(torch.from_numpy(calibration[i:i + CALIBRATION_BATCH]))
    return convert_pt2e(prepared)


def build_int8(case: Case, source: Path, calibration: np.ndarray, dest: Path) -> None:
    """PT2E int8 with the XNNPACKQuantizer, exported at batch 1 and lowered to XNNPACK."""
    from ptq_helpers.backends.pytorch.torch_graph import matmul_as_linear, torch_module

    q = case.quant
    assert isinstance(q, ExecuTorchQuant), case
    module = torch_module(source)
    if q.matmul_as_linear:
        module = matmul_as_linear(module)
    _lower(xnnpack_quantize(module, q, np.ascontiguousarray(calibration, dtype=np.float32)), dest,
           (EXAMPLE_BATCH, *calibration.shape[1:]))


def set_threads(threads: int) -> None:
    """ExecuTorch's threadpool (the one XNNPACK runs on) is process-wide: resize it to `threads`."""
    with quiet_executorch():
        from executorch.extension.pybindings import portable_lib

        if portable_lib._threadpool_get_thread_count() != threads:
            portable_lib._unsafe_reset_threadpool(threads)


def runner(case: Case, path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """`run(images in the model's contract) -> its outputs`: the program's `forward`, one image per call (the
    program's static shape; see the module docstring for why)."""
    import torch

    with quiet_executorch():
        from executorch.runtime import Runtime

        set_threads(threads)
        method = Runtime.get().load_program(Path(path)).load_method("forward")

    def run(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty((len(x), 10), dtype=np.float32)
        for i in range(len(x)):
            out[i] = method.execute([torch.from_numpy(x[i:i + 1])])[0].numpy()[0]
        return out

    return run


def runtime_facts(case: Case, path: Path) -> dict[str, Any]:
    """What the .pte executes, read from the file: which convolutions and matrix products run as integer
    (int8) XNNPACK kernels and which in float, the delegates and the operators left outside them."""
    layers, program = executed_layers(path)
    names = named(layers)
    integer = [n for n, layer in zip(names, layers) if layer["integer"]]
    floating = [n for n, layer in zip(names, layers) if not layer["integer"]]
    causes = []
    for name, layer in zip(names, layers):
        if layer["integer"]:
            continue
        if layer["where"] == "kernel":
            causes.append(f"{name}: not delegated, runs the execution plan's {layer['node']} kernel")
        elif not case.is_fp32:
            causes.append(f"{name}: {layer['node']} with {layer['input']} input and {layer['weights']} weights "
                          "(the quantizer left it unannotated: XNNPACKQuantizer quantizes nn.Linear/F.linear "
                          "and convolutions, not the torch.matmul that onnx2torch makes of an ONNX MatMul; "
                          "ExecuTorchQuant(matmul_as_linear=True) rewrites it)"
                          if layer["kind"] == "fc" else
                          f"{name}: {layer['node']} with {layer['input']} input and {layer['weights']} weights")
    delegates = ", ".join(f"{backend}: {n} delegated subgraph{'s' * (n != 1)}"
                          for backend, n in sorted(program["delegates"].items())) or "none"
    return {
        "executed": Executed(
            tuple(integer),
            tuple(floating),
            how=("the .pte's execution plan (operators outside delegates, delegate calls) and each XnnpackBackend "
                    "payload decoded with the wheel's XNNPACK flatbuffer schema: a Conv2d/FullyConnected node is "
                    "integer when its input and weight values are quantized int8 datatypes (qint8, qcint8, ...), "
                    "float when fp32; names are positional in execution order (conv 1..9, fc), which for the "
                    "ResNet8 ONNX is its node order (conv 1 = model_1/conv2d_1/BiasAdd, ..., fc = "
                    "model_1/dense_1/MatMul); read with ExecuTorch's exir deserializer and flatc, not executed"),
            causes=tuple(causes),
            kernels={n: f"{layer['node']} ({layer.get('input', '?')}/{layer.get('weights', '?')})"
                     for n, layer in zip(names, layers)},
        ).to_json(),
        "delegate": delegates,
        "non-delegated ops": ", ".join(f"{n}x {op}" for op, n in sorted(program["outside"].items())) or "none",
        "layers": ", ".join(f"{n}: {layer['node']} {layer.get('input', '?')}/{layer.get('weights', '?')}"
                            for n, layer in zip(names, layers)),
        "float nodes in XNNPACK": ", ".join(f"{n}x {node}"
                                            for node, n in sorted(program["xnnpack_float_nodes"].items())) or "none",
    }
