"""What PyTorch runs for a built model: which compute layers execute as integer kernels, asked of the TorchScript
graph of the saved file or of the code Inductor generates for a PT2E program (the record's `runtime.executed`)."""
from __future__ import annotations

import warnings
from pathlib import Path

from ptq_helpers.backends.pytorch.backend import TorchQuant, compiled_pt2e, load_torchscript, quiet_torch
from ptq_helpers.backends.pytorch.torch_graph import input_shape
from ptq_helpers.results.executed import Executed
from ptq_helpers.matrix.cases import Case

TS_INTEGER = ("quantized::conv2d", "quantized::conv2d_relu", "quantized::linear", "quantized::linear_relu",
              "quantized::matmul", "quantized::linear_dynamic")
TS_FLOAT = ("aten::_convolution", "aten::conv2d", "aten::linear", "aten::matmul", "aten::mm", "aten::addmm")
# Inductor's generated code: a call to a oneDNN int8 kernel (torch.ops.onednn.qconv*/qlinear*) is integer; a float
# convolution or GEMM call (mkldnn/mkl/aten/extern kernels) is float.
INDUCTOR_CALL = r"(torch\.ops\.[\w\.]+|extern_kernels\.\w+)\("
INDUCTOR_FLOAT = ("convolution", "_mkl_linear", "_linear_pointwise", ".mm", ".addmm", ".bmm", ".matmul")


def _torchscript_executed(path: Path) -> dict[str, object]:
    """A TorchScript file's compute ops, per submodule (onnx2torch names them after the ONNX nodes) and in the
    top-level graph (FX turns some layers into functional calls), plus the per-call re-quantizations."""
    import re

    module = load_torchscript(path)
    integer, floating, kernels = [], [], {}
    for name, sub in module.named_modules():
        try:
            nodes = list(sub.graph.nodes())
        except RuntimeError:
            continue
        for i, node in enumerate(n for n in nodes if n.kind() in TS_INTEGER + TS_FLOAT):
            layer = re.sub(r"\.\d+$", "", name) if name else f"{node.kind()} #{i + 1} (top-level graph)"
            kernels[layer] = node.kind()
            (integer if node.kind() in TS_INTEGER else floating).append(layer)
    requant = sum(1 for n in module.inlined_graph.nodes() if n.kind() == "aten::quantize_per_tensor")
    facts: dict[str, object] = {"executed": Executed(
        tuple(integer), tuple(floating), kernels=kernels,
        causes=tuple(f"{n}: {kernels[n]} (a float op in the TorchScript graph)" for n in floating),
        how=f"torch {__import__('torch').__version__} TorchScript graphs of the saved file (quantized:: ops are "
            "integer kernels of the quantized engine; aten:: convolution/matmul are float)").to_json()}
    if requant:
        facts["re-quantized per call"] = (f"{requant} quantize_per_tensor calls in every forward (constant operands "
                                          "re-quantized on each call: slow, not float)")
    return facts


def _inductor_executed(case: Case, path: Path) -> dict[str, object]:
    """The code Inductor generates for the PT2E program (as the runner compiles it, freezing on): oneDNN int8
    convolution/linear calls are integer; float convolution/GEMM calls are float. Layers are named by position in
    the generated code (Inductor keeps no source names)."""
    import re

    import torch
    from torch._inductor.utils import run_and_get_code

    module = compiled_pt2e(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"To copy construct from a tensor", category=UserWarning)
        _, code = run_and_get_code(module, torch.zeros(input_shape(path, 2)))
    calls = []
    for op in re.findall(INDUCTOR_CALL, "\n".join(code)):
        op = op.removeprefix("torch.ops.").removesuffix(".default")
        if op.startswith(("onednn.qconv", "onednn.qlinear")) or any(f in op for f in INDUCTOR_FLOAT):
            calls.append(op)
    integer = [f"{op} #{i + 1}" for i, op in enumerate(calls) if op.startswith("onednn.q")]
    floating = [f"{op} #{i + 1}" for i, op in enumerate(calls) if not op.startswith("onednn.q")]
    return {"executed": Executed(
        tuple(integer), tuple(floating), kernels={n: n.split(" #")[0] for n in integer + floating},
        causes=tuple(f"{n}: a float call in Inductor's code (X86InductorQuantizer annotates Conv2d/Linear patterns; "
                     "this layer was left unquantized or its Q/DQ pattern was not fused into a oneDNN int8 kernel)"
                     for n in floating),
        how=f"torch {torch.__version__} Inductor's generated code for the compiled program (freezing on, as the "
            "runner compiles it), its oneDNN int8 vs float convolution/linear calls, named by position").to_json()}


def runtime_facts(case: Case, path: Path) -> dict[str, object]:
    """Which layers run as integer kernels, asked of what runs the file: the TorchScript graph, or the code
    Inductor compiled a PT2E program into."""
    import torch

    engine = case.quant.engine if isinstance(case.quant, TorchQuant) else None
    if engine is not None:
        torch.backends.quantized.engine = engine
    if isinstance(case.quant, TorchQuant) and case.quant.flow == "pt2e":
        return _inductor_executed(case, path)
    with quiet_torch():
        return _torchscript_executed(path)
