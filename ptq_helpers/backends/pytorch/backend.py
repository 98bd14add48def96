"""PyTorch models of the fp32 model (the user's torch.export program, or the onnx2torch module of the ONNX file):
fp32 and FX graph-mode int8 as TorchScript, PT2E int8 as a torch.export program compiled with Inductor."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ptq_helpers.data.calibration import CALIBRATION_BATCH
from ptq_helpers.matrix.cases import Case, Format, Framework, NoOp, SizeKind
from ptq_helpers.core.errors import UnsupportedQuantization
from ptq_helpers.backends.pytorch.torch_graph import input_shape, load_program, matmul_as_linear, torch_module


@dataclass(frozen=True)
class TorchQuant:
    """torch.ao.quantization FX graph-mode settings."""

    engine: str = "fbgemm"
    weight_dtype: Literal["qint8", "quint8"] = "qint8"
    flow: Literal["fx", "pt2e"] = "fx"  # pt2e: torchao prepare_pt2e/convert_pt2e + X86InductorQuantizer
    reduce_range: bool = False  # pt2e only: 7-bit activations, for CPUs without VNNI
    # FX only, for matched-settings rows: the engine default is per-channel weights and 7-bit (reduce_range)
    # HistogramObserver activations; "per_tensor"/"per_channel" with "minmax8" is ONNX Runtime's MinMax recipe.
    weights: Literal["default", "per_tensor", "per_channel"] = "default"
    activations: Literal["default", "minmax8"] = "default"
    matches: str = ""  # the ONNX Runtime case with the same granularity, activation bit-width and calibration
    # PT2E only: the ONNX MatMul as F.linear first (torch_graph.matmul_as_linear), the form X86InductorQuantizer
    # annotates; without it the fully connected layer stays a float matmul in the compiled code
    matmul_as_linear: bool = False

    @property
    def source(self) -> Literal["onnx", "torch"]:
        """Which fp32 model the build starts from: FX quantizes the nn.Module graph of onnx2torch, which a
        torch.export program (an aten graph without modules) is not, so FX starts from the ONNX file; PT2E from
        the user's .pt2 when there is one (Framework.source)."""
        return "onnx" if self.flow == "fx" else "torch"


FRAMEWORK = Framework("pytorch", "PyTorch", "torch", source="torch",
                      build="ptq_helpers.backends.pytorch.backend:build_quantized",
                      build_fp32="ptq_helpers.backends.pytorch.backend:build_fp32",
                      run="ptq_helpers.backends.pytorch.backend:runner",
                      runtime_facts="ptq_helpers.backends.pytorch.facts:runtime_facts",
                      size_kind=SizeKind("torch", "TorchScript file", 45.0),
                      libraries=("torch", "torchvision", "onnx2torch", "torchao", "onnx"),
                      code=("ptq_helpers.backends.pytorch.torch_graph",),
                      noops=(NoOp("engine", ("fbgemm", "x86"), ("avx512_vnni",),
                                  "torch's x86 quantized engine runs fbgemm's kernels on a CPU without AVX-512 VNNI, "
                                  "and both engines' default QConfig is the same"),),
                      tools="PyTorch FX `torch.ao.quantization.quantize_fx` (`prepare_fx`, calibration passes, "
                            "`convert_fx`, `get_default_qconfig_mapping(engine)`), traced and saved as TorchScript; "
                            "PyTorch PT2E (`torch.export`, torchao `prepare_pt2e`/`convert_pt2e` with "
                            "`X86InductorQuantizer`), saved with `torch.export.save` and gated as the "
                      "Inductor-compiled "
                            "module. PyTorch uint8 is refused: fbgemm requires qint8 weights")
FORMATS = {"torchscript": Format("pt", "TorchScript"),
                 "pt2": Format("pt2", "torch.export (.pt2), compiled with Inductor at load")}

TRACE_BATCH = 8

# FX and TorchScript warn on every call in torch >= 2.10 (deprecations); known and harmless here.
_KNOWN_NOISE = (
    (DeprecationWarning, r"torch\.ao\.quantization is deprecated"),
    (UserWarning, r"Please use quant_min and quant_max to specify the range for observers"),
    (UserWarning, r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor creation"),
    (FutureWarning, r"`torch\.jit\.\w+` is deprecated"),
)


@contextmanager
def quiet_torch() -> Iterator[None]:
    """Silence exactly the known torch deprecation noise; every other warning still surfaces."""
    with warnings.catch_warnings():
        for category, message in _KNOWN_NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


def check_supported(q: TorchQuant) -> None:
    """Refuse what fbgemm/x86 cannot run. FX itself does not raise on quint8 weights: it silently
    leaves the convolutions in fp32, so the refusal must be ours."""
    if q.weight_dtype != "qint8":
        raise UnsupportedQuantization(
            f"pytorch/uint8: the {q.engine} quantized engine requires qint8 (signed) weights, got "
            f"{q.weight_dtype}; FX would silently leave every convolution in fp32. Use int8 for PyTorch, "
            f"or ONNX Runtime for uint8"
        )


def _trace_and_save(module, dest: Path, shape: tuple[int, ...]) -> None:
    import torch

    example = torch.zeros(shape)
    with quiet_torch(), torch.inference_mode(), warnings.catch_warnings():
        # Quantized ops take scale/zero-point as Python numbers: they are constants of the converted
        # model, so freezing them is exactly right (the saved file is what the tests evaluate).
        warnings.filterwarnings("ignore", message=r"Converting a tensor to a Python (float|boolean|integer)",
                                category=torch.jit.TracerWarning)
        traced = torch.jit.trace(module, example, check_trace=False)
        torch.jit.save(traced, str(dest))
    strip_debug_info(dest)


def strip_debug_info(path: Path) -> None:
    """Make the saved TorchScript depend only on the model: drop the `.debug_pkl` records (source ranges that
    embed the absolute paths of the Python environment; the loader treats them as optional, error messages from
    inside the model lose their Python line numbers), name the archive folder `model/` whatever the file is
    called, and make `.data/serialization_id` (random per save) a hash of the rest. Then the shipped file, its
    size and its size gate do not depend on where the venv lives or on the build's temporary name."""
    import hashlib
    import io
    import zipfile

    with zipfile.ZipFile(path) as src:
        kept = [(info, src.read(info)) for info in src.infolist() if not info.filename.endswith(".debug_pkl")]
    digest = hashlib.sha256(b"".join(d for i, d in kept if not i.filename.endswith("serialization_id"))).hexdigest()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info, data in kept:
            name = "model/" + info.filename.split("/", 1)[1]
            if name == "model/.data/serialization_id":
                data = digest[:len(data)].encode() if data else data
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = info.compress_type  # torch stores tensors, deflates code
            dst.writestr(entry, data)
    path.write_bytes(out.getvalue())


def deflate_text(path: Path) -> None:
    """Deflate the text members of a .pt2 archive (the serialized graph `models/*.json`, ~160 KB of JSON for this
    model, stored uncompressed by torch.export.save) as TorchScript deflates its code; tensors stay stored (PyTorch's
    zip reader reads both). The shipped file then weighs what the int8 model is, not its graph's JSON text."""
    import io
    import zipfile

    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info)) for info in src.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info, data in members:
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED if info.filename.endswith(".json") else info.compress_type
            dst.writestr(entry, data)
    path.write_bytes(out.getvalue())


def build_fp32(source: Path, dest: Path) -> None:
    """onnx2torch conversion, traced and saved as TorchScript (in a fresh child process, see _in_child)."""
    _in_child("torch-fp32", source, None, dest)


def qconfig_mapping(q: TorchQuant):
    """The engine's default mapping, with the requested weight dtype."""
    import torch
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import MinMaxObserver

    with quiet_torch():
        mapping = get_default_qconfig_mapping(q.engine)
        if q.weights != "default" or q.activations != "default":
            from torch.ao.quantization.observer import PerChannelMinMaxObserver

            default = mapping.global_qconfig
            activation = (MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                                                   reduce_range=False)
                          if q.activations == "minmax8" else default.activation)
            weight = {"per_tensor": MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric),
                      "per_channel": PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                                        qscheme=torch.per_channel_symmetric),
                      "default": default.weight}[q.weights]
            mapping.set_global(QConfig(activation=activation, weight=weight))
        if q.weight_dtype == "quint8":  # reachable only with check=False: shows FX's silent fallback
            weight = MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
            mapping.set_global(QConfig(activation=mapping.global_qconfig.activation, weight=weight))
    return mapping


def fx_quantize(module, q: TorchQuant, calibration: np.ndarray, *, check: bool = True):
    """prepare_fx -> calibrate -> convert_fx with the case's engine; returns the quantized GraphModule."""
    import torch
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if check:
        check_supported(q)
    torch.backends.quantized.engine = q.engine
    example = (torch.from_numpy(calibration[:1]),)
    with quiet_torch(), torch.no_grad():
        prepared = prepare_fx(module, qconfig_mapping(q), example)
        for i in range(0, len(calibration), CALIBRATION_BATCH):
            prepared(torch.from_numpy(calibration[i:i + CALIBRATION_BATCH]))
        return convert_fx(prepared)


def pt2e_quantize(module, q: TorchQuant, calibration: np.ndarray):
    """torch.export -> prepare_pt2e(X86InductorQuantizer) -> calibrate -> convert_pt2e."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer,
        get_default_x86_inductor_quantization_config,
    )

    if q.matmul_as_linear:
        module = matmul_as_linear(module)
    batch = (torch.export.Dim.AUTO,)  # the source program's own batch range (a user's .pt2 may bound it)
    example = (torch.from_numpy(calibration[:2]),)
    graph = torch.export.export(module, example, dynamic_shapes=({0: batch[0]},)).module()
    config = get_default_x86_inductor_quantization_config(reduce_range=q.reduce_range)
    prepared = prepare_pt2e(graph, X86InductorQuantizer().set_global(config))
    with torch.no_grad():
        for i in range(0, len(calibration), CALIBRATION_BATCH):
            prepared(torch.from_numpy(calibration[i:i + CALIBRATION_BATCH]))
    converted = convert_pt2e(prepared)
    # convert_pt2e folds int8 weights in but leaves the fp32 originals registered: drop what no node reads.
    used = {n.target for n in converted.graph.nodes if n.op == "get_attr"}
    for name, _ in list(converted.named_parameters()) + list(converted.named_buffers()):
        if name not in used:
            owner, _, attr = name.rpartition(".")
            delattr(converted.get_submodule(owner) if owner else converted, attr)
    return converted, example, batch[0]


def build_quantized(case: Case, source: Path, calibration: np.ndarray, dest: Path) -> None:
    """int8 of the fp32 torch module: FX saved as TorchScript, or PT2E saved with torch.export."""
    q = case.quant
    assert isinstance(q, TorchQuant), case
    check_supported(q)
    if q.flow == "pt2e":
        import torch

        converted, example, batch = pt2e_quantize(torch_module(source), q, calibration)
        program = torch.export.export(converted, example, dynamic_shapes=({0: batch},))
        torch.export.save(program, str(dest))
        deflate_text(dest)
        return
    _in_child(case.id, source, calibration, dest)


def _in_child(case_id: str, source: Path, calibration: np.ndarray | None, dest: Path) -> None:
    """Build a TorchScript file in a fresh interpreter: TorchScript names classes from a process-wide counter
    (`___torch_mangle_39`), so a file traced after other work in the same process differs in its code and size;
    a fresh process makes each build depend on its inputs only."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ptq-torch-") as work:
        images = "-"
        if calibration is not None:
            images = str(Path(work) / "calibration.npy")
            np.save(images, calibration)
        proc = subprocess.run([sys.executable, "-m", "ptq_helpers.backends", "pytorch.backend", case_id, str(source),
                               images, str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise RuntimeError(f"{case_id}: the TorchScript build failed in its child process (exit {proc.returncode}):"
                           f"\n{tail}")


def main(argv: list[str]) -> None:
    """`python -m ptq_helpers.backends pytorch.backend CASE_ID SOURCE CALIBRATION.npy|- DEST` (used by _in_child)."""
    from ptq_helpers.matrix import cases

    case_id, source, images, dest = argv
    shape = input_shape(Path(source), TRACE_BATCH)
    if images == "-":
        _trace_and_save(torch_module(Path(source)), Path(dest), shape)
        return
    q = cases.get(case_id).quant
    assert isinstance(q, TorchQuant), case_id
    _trace_and_save(fx_quantize(torch_module(Path(source)), q, np.load(images)), Path(dest), shape)


def load_torchscript(path: Path):
    import torch

    with quiet_torch():
        module = torch.jit.load(str(path), map_location="cpu")
    module.eval()
    return module


def compiled_pt2e(path: Path):
    """Load a PT2E int8 program and lower it with Inductor (freezing, oneDNN int8 kernels)."""
    import torch
    import torch._inductor.config as inductor_config

    # Importing the quantizer registers the int8 fusion passes Inductor needs to lower Q/DQ patterns.
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer  # noqa: F401

    inductor_config.freezing = True
    return torch.compile(load_program(path).module())


def runner(case: Case, path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """A TorchScript module, or a PT2E program compiled with Inductor, as `run(images)`.

    torch's thread count is process-wide: set here, before the model runs, to the run's threads per process.
    """
    import torch

    torch.set_num_threads(threads)

    # The quantized engine is process-global and changes the numbers (loading repacks the weights
    # for the current engine; fbgemm vs x86 differ in top-1 on this model), so loading and every
    # call use the engine the model was quantized for.
    engine = case.quant.engine if isinstance(case.quant, TorchQuant) else None
    if engine is not None:
        torch.backends.quantized.engine = engine
    if isinstance(case.quant, TorchQuant) and case.quant.flow == "pt2e":
        module = compiled_pt2e(path)  # the deployed form: gated and benchmarked compiled, never the reference
    else:
        module = load_torchscript(path)

    def run(x: np.ndarray) -> np.ndarray:
        if engine is not None:
            torch.backends.quantized.engine = engine
        with torch.no_grad(), warnings.catch_warnings():
            # Inductor's oneDNN qlinear lowering (torch/_inductor/mkldnn_lowerings.py) copies a tensor with
            # torch.tensor(t) when it compiles a new batch shape; its own notice, not the model's
            warnings.filterwarnings("ignore", message=r"To copy construct from a tensor", category=UserWarning)
            return module(torch.from_numpy(x)).numpy()

    return run
