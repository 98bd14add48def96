"""ONNX Runtime static quantization (quantize_static) of the fp32 ONNX model."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ptq_helpers.data.calibration import CALIBRATION_BATCH
from ptq_helpers.results.executed import Executed
from ptq_helpers.matrix.cases import Case, Format, Framework


@dataclass(frozen=True)
class OrtQuant:
    """onnxruntime.quantization.quantize_static settings."""

    activation_type: Literal["QInt8", "QUInt8", "QInt16", "QUInt16"]
    weight_type: Literal["QInt8", "QUInt8", "QInt4"]
    quant_format: Literal["QDQ", "QOperator"] = "QDQ"
    calibrate_method: Literal["MinMax", "Entropy", "Percentile"] = "MinMax"
    per_channel: bool = False
    reduce_range: bool = False
    preprocess: bool = False  # onnxruntime's quant_pre_process first (folds batch-norm Mul/Add into Conv)

    @property
    def emulated(self) -> str | None:
        """Why the build is an accuracy-only emulation on CPU (16-bit activations or 4-bit weights: ONNX Runtime's
        CPU EP has no integer kernels for them and runs DequantizeLinear -> float op), else None."""
        wide = ([f"{self.activation_type} activations"] if self.activation_type.endswith("16") else []) + \
            ([f"{self.weight_type} weights"] if self.weight_type == "QInt4" else [])
        if not wide:
            return None
        return (f"emulated: no integer kernels on CPU ({' and '.join(wide)}: ONNX Runtime's CPU execution provider "
                "has no QLinearConv/QGemm kernels for them, so each quantized layer runs as DequantizeLinear then a "
                "float kernel; accuracy only, not timed)")


FRAMEWORK = Framework("onnxruntime", "ONNX Runtime", "ort", build="ptq_helpers.backends.onnxruntime.backend:quantize",
                      libraries=("onnxruntime", "onnx"),
                      run="ptq_helpers.backends.onnxruntime.backend:runner",
                      runtime_facts="ptq_helpers.backends.onnxruntime.backend:runtime_facts",
                      layers="ptq_helpers.backends.onnxruntime.layers:activation_sqnr",
                      tools="ONNX Runtime `onnxruntime.quantization.quantize_static` (CalibrationDataReader over the "
                            "calibration images)")
FORMATS = {"onnx": Format("onnx", "ONNX"), "qdq": Format("onnx", "ONNX (QDQ)"),
               "qoperator": Format("onnx", "ONNX (QOperator)")}

# Entropy (KL) calibration: histogram bins searched and bins of the quantized distribution (TensorRT's values).
ENTROPY_BINS = 2048
ENTROPY_QUANTIZED_BINS = 128


class CalibrationReader:
    """CalibrationDataReader over an in-memory float32 NHWC array."""

    def __init__(self, input_name: str, images: np.ndarray, batch: int = CALIBRATION_BATCH) -> None:
        self._batches = iter([{input_name: images[i:i + batch]} for i in range(0, len(images), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)

    def __iter__(self):  # qdq_loss_debug iterates readers
        return self._batches


def entropy_ranges(model: Path, input_name: str, calibration: np.ndarray, work: Path) -> dict[str, tuple[float, float]]:
    """Per-tensor KL-divergence ranges with a real search.

    `quantize_static(calibrate_method=Entropy)` forwards no `num_bins` to the calibrator, which then
    uses 128 bins for 128 quantized bins: the search has one candidate, the full range, and the
    model comes out byte-identical to MinMax. Calibrating here with 2048 bins fixes that.
    """
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    calibrator = create_calibrator(
        str(model), None, augmented_model_path=str(work / "augmented.onnx"),
        calibrate_method=CalibrationMethod.Entropy,
        extra_options={"num_bins": ENTROPY_BINS, "num_quantized_bins": ENTROPY_QUANTIZED_BINS},
    )
    calibrator.collect_data(CalibrationReader(input_name, calibration))
    with vectorised():
        data = calibrator.compute_data()
    return {name: (float(np.asarray(data[name].range_value[0]).min()),
                   float(np.asarray(data[name].range_value[1]).max()))
            for name in data.keys()}


def quantize(case: Case, source: Path, calibration: np.ndarray, dest: Path) -> None:
    """Write the case's quantized model to dest (which the caller makes atomic)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    q = case.quant
    assert isinstance(q, OrtQuant), case
    input_name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    # quantize_static writes helper files (`<name>-inferred.onnx`, augmented models) next to its input:
    # work on a private copy so nothing touches the (possibly read-only, shared) assets folder and
    # concurrent builds cannot delete each other's files.
    with tempfile.TemporaryDirectory(prefix="ptq-ort-") as tmp:
        work = Path(tmp)
        model = work / "source.onnx"
        private_copy(source, model)
        if q.preprocess:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            model = work / "preprocessed.onnx"
            quant_pre_process(str(work / "source.onnx"), str(model))
        extra: dict[str, object] = {}
        method = q.calibrate_method
        if method == "Entropy":
            ranges = entropy_ranges(model, input_name, calibration, work)
            extra["TensorQuantOverrides"] = {name: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}]
                                             for name, (lo, hi) in ranges.items()}
            method = "MinMax"  # the overrides carry the entropy ranges
        quantize_static(
            str(model),
            str(work / "model.onnx"),
            CalibrationReader(input_name, calibration),
            quant_format=QuantFormat[q.quant_format],
            activation_type=QuantType[q.activation_type],
            weight_type=QuantType[q.weight_type],
            per_channel=q.per_channel,
            reduce_range=q.reduce_range,
            calibrate_method=CalibrationMethod[method],
            extra_options=extra,
        )
        shutil.copyfile(work / "model.onnx", dest)


def private_copy(source: Path, dest: Path) -> None:
    """The fp32 ONNX file as one self-contained file at `dest` (weights kept as external data beside the source
    are read in; a self-contained file is copied byte for byte)."""
    import onnx

    from ptq_helpers.data.contract import model_files

    if len(model_files(source)) == 1:
        shutil.copyfile(source, dest)
    else:
        onnx.save(onnx.load(str(source)), str(dest))


# --- Entropy threshold search, vectorised ------------------------------------------------------------------
# ORT's `HistogramCollector.get_entropy_threshold` walks ~1,000 candidate thresholds per tensor (2,048 bins,
# 128 quantized bins) summing bins with Python's `sum` in Python loops (~0.3 s per tensor, most of an Entropy
# build). `entropy_threshold` is the same computation with numpy reductions (prefix sums for the outliers, one
# reshape-sum for the merged bins), keeping ORT's integer truncation of the expanded bins, its smoothing and its
# float32 KL, so the thresholds are identical (tests compare both on the real model's histograms). It lives in
# this module so that it is part of the ONNX Runtime builds' cache key.


def entropy_threshold(histogram, num_quantized_bins: int):  # noqa: ANN001 - ORT's (hist, edges, min, max) tuple
    from onnxruntime.quantization.calibrate import entropy  # ORT's own float32 KL, as its search uses
    from onnxruntime.quantization.quant_utils import smooth_distribution

    hist, hist_edges = histogram[0], histogram[1]
    num_bins = hist.size
    zero_bin_index = num_bins // 2
    num_half_quantized_bin = num_quantized_bins // 2
    dtype = hist_edges.dtype
    prefix = np.concatenate([[0], np.cumsum(hist)])  # prefix[k] = sum(hist[:k]), exact in integers
    candidates = range(num_half_quantized_bin, zero_bin_index + 1)
    kl_divergence = np.zeros(len(candidates))
    thresholds = []
    for n, i in enumerate(candidates):
        start_index = zero_bin_index - i
        end_index = min(zero_bin_index + i + 1, num_bins)
        thresholds.append((hist_edges[start_index], hist_edges[end_index]))
        sliced = hist[start_index:end_index]
        p = sliced.copy()
        p[0] += prefix[start_index]
        p[-1] += prefix[-1] - prefix[end_index]
        merged = sliced.size // num_quantized_bins
        covered = num_quantized_bins * merged
        quantized = sliced[:covered].reshape(num_quantized_bins, merged).sum(axis=1).astype(np.int64)
        quantized[-1] += sliced[covered:].sum()
        norm = (p[:covered] != 0).reshape(num_quantized_bins, merged).sum(axis=1)
        q = np.zeros(p.size, dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            expanded = np.where(norm != 0, quantized / np.where(norm == 0, 1, norm), 0)
        q[:covered] = np.repeat(expanded, merged).astype(np.int64)  # ORT assigns floats into int64: truncation
        p, q = smooth_distribution(p), smooth_distribution(q)
        kl_divergence[n] = np.inf if p is None or q is None else np.array(entropy(p, q), dtype=dtype)
    best = thresholds[int(np.argmin(kl_divergence))]
    low, high = histogram[2], histogram[3]
    return (low if best[0] < low else best[0], high if best[1] > high else best[1])


@contextmanager
def vectorised() -> Iterator[None]:
    """ORT's HistogramCollector uses `entropy_threshold` while the context is open."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    original = HistogramCollector.get_entropy_threshold
    HistogramCollector.get_entropy_threshold = lambda self, histogram, bins: entropy_threshold(histogram, bins)
    try:
        yield
    finally:
        HistogramCollector.get_entropy_threshold = original


def ort_session(path: Path, threads: int):
    """An ONNX Runtime CPU session with a fixed intra-op thread count."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def runner(case: Case, path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime session as `run(images)`."""
    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


# --- Executed precision -------------------------------------------------------------------------------------
# Asked of ONNX Runtime itself: the graph its CPU execution provider runs after the graph optimizations the runner's
# session applies (ORT's default level, ORT_ENABLE_ALL, on this CPU), saved with
# SessionOptions.optimized_model_filepath.
COMPUTE = ("Conv", "Gemm", "MatMul")  # the source model's compute layers (as the quantized file keeps them)
INTEGER_OPS = {"QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger", "MatMulIntegerToFloat",
               "DynamicQuantizeMatMul", "NhwcQLinearConv"}
FLOAT_OPS = {"Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul", "NchwcConv"}
_QOPERATOR = {"QLinearConv": "Conv", "QLinearMatMul": "MatMul", "QGemm": "Gemm", "ConvInteger": "Conv",
              "MatMulInteger": "MatMul"}


def _source_layers(model) -> dict[str, str]:  # noqa: ANN001 - onnx.ModelProto
    """The quantized file's compute layers: node name -> its weight tensor's name (QDQ keeps the source's Conv,
    Gemm and MatMul nodes; QOperator names its QLinear* nodes after them)."""
    layers = {}
    for node in model.graph.node:
        if node.op_type in COMPUTE:
            layers[node.name] = node.input[1]
        elif node.op_type in _QOPERATOR:
            layers[node.name.removesuffix("_quant")] = node.input[3 if node.op_type.startswith("QLinear") else 1]
    return layers


def _weight_root(name: str) -> str:
    for suffix in ("_quantized", "_DequantizeLinear_Output"):
        name = name.split(suffix)[0]
    return name


def _float_causes(model, layers: list[str]) -> list[str]:  # noqa: ANN001 - the QDQ model before ORT optimizes it
    """Why ORT's x86 CPU EP left QDQ layers in float, where the QDQ file shows it: an int8 activation input that
    several nodes consume (ORT fuses QDQ Conv into QLinearConv with uint8 activations only, and rewrites an int8
    Q/DQ pair to uint8 only where the quantized activation has a single consumer; a residual branch point has
    several)."""
    nodes = {n.name: n for n in model.graph.node}
    producer = {out: n for n in model.graph.node for out in n.output}
    init = {t.name: t for t in model.graph.initializer}
    consumers: dict[str, int] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    causes = []
    for layer in layers:
        node = nodes.get(layer)
        dq = producer.get(node.input[0]) if node is not None else None
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        zp = init.get(dq.input[2]) if len(dq.input) > 2 else None
        if zp is None or zp.data_type != 3:  # onnx.TensorProto.INT8
            continue
        q = producer.get(dq.input[0])
        shared = max(consumers.get(dq.output[0], 0), consumers.get(q.output[0], 0) if q is not None else 0)
        if shared > 1:
            causes.append(f"{layer}: its int8 input activation is consumed by {shared} nodes (a residual branch "
                          "point); ONNX Runtime's x86 CPU EP fuses QDQ Conv into QLinearConv with uint8 activations "
                          "only and rewrites int8 Q/DQ to uint8 only for single-consumer activations, so this layer "
                          "runs as float Conv between DequantizeLinear nodes: quantize activations as uint8 (QUInt8, "
                          "e.g. U8S8)")
    return causes


def runtime_facts(case: Case, path: Path) -> dict[str, object]:
    """What ONNX Runtime's CPU EP runs: its optimized graph (at the runner's optimization level, on this CPU)
    matched back to the quantized file's Conv/Gemm/MatMul layers by their weight tensors."""
    import onnx
    import onnxruntime as ort

    source = onnx.load(str(path))
    layers = _source_layers(source)
    with tempfile.TemporaryDirectory(prefix="ptq-ort-facts-") as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
        opts.log_severity_level = 3  # ORT warns that an ORT_ENABLE_ALL graph is hardware specific: that is the point
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        optimized = onnx.load(opts.optimized_model_filepath, load_external_data=False)  # its nodes are the facts
    by_weight = {w: name for name, w in layers.items()}
    kernels: dict[str, str] = {}
    ops: dict[str, int] = {}
    for node in optimized.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
        if node.op_type not in INTEGER_OPS | FLOAT_OPS:
            continue
        weight = node.input[3] if node.op_type.startswith(("QLinear", "NhwcQLinear")) else node.input[1]
        layer = by_weight.get(_weight_root(weight)) or next(
            (name for name in layers if node.name.startswith(name)), node.name)
        kernels[layer] = node.op_type + (f" ({node.domain})" if node.domain else "")
    integer = [name for name in layers if kernels.get(name, "").split(" (")[0] in INTEGER_OPS]
    floating = [name for name in layers if name not in integer]
    causes = _float_causes(source, floating)
    # declared by the settings, stated only when the optimized graph bears it out (no layer fused to an integer op)
    emulated = case.quant.emulated if isinstance(case.quant, OrtQuant) and not integer else None
    if emulated:
        causes = [f"{name}: {emulated}" for name in floating]
    counted = ", ".join(f"{n} {op}" for op, n in sorted(ops.items()) if op in INTEGER_OPS | FLOAT_OPS
                        | {"QuantizeLinear", "DequantizeLinear", "QLinearAdd", "QLinearMul", "Mul", "Add"})
    return {"optimized graph": counted,
            "executed": Executed(
                tuple(integer), tuple(floating), causes=tuple(causes), kernels=kernels, emulated=emulated or "",
                how=f"ONNX Runtime {ort.__version__}'s optimized graph (CPUExecutionProvider, ORT_ENABLE_ALL as the "
                    "runner's session, SessionOptions.optimized_model_filepath) on this CPU, its nodes matched to the "
                    "file's Conv/Gemm/MatMul layers by weight tensor").to_json()}
