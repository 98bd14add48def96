"""The one declarative model matrix: every fixture, test, benchmark and report row comes from it.

Adding a framework is one `Framework` entry and its cases here, plus the builder and runner functions
the entry names (resolved lazily by dotted path, so this module imports no ML library).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

DType = Literal["fp32", "int8", "uint8", "u8s8", "bf16"]
DTYPE_LABELS = {"fp32": "float32", "int8": "int8", "uint8": "uint8", "u8s8": "uint8 act/int8 wt",
                "bf16": "bfloat16 (run time)"}


def resolve(dotted: str) -> Callable[..., Any]:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Format:
    """A serialized model format: file suffix and how the report names it."""

    suffix: str
    label: str


@dataclass(frozen=True)
class Framework:
    """A backend: how its models are built and run, and which size threshold applies to them.

    build(case, fp32_source, calibration_images, dest) writes a quantized model (cases whose `needs_validation`
    also get `validation=(images, labels)` from held-out training images and `max_drop` in points); build_fp32(source, dest)
    writes the fp32 model (None: the fp32 model is the source ONNX file itself); run(case, path,
    threads) returns `run(images NHWC float32) -> probabilities`.
    """

    name: str
    label: str
    prefix: str  # case ids start with it; `<prefix>-fp32` is the baseline
    build: str  # "module:function"
    run: str
    build_fp32: str | None = None
    size_threshold: Literal["onnx", "torch", "tflite"] = "onnx"
    tools: str = ""  # how its models are quantized, for the report's methodology
    source: Literal["onnx", "h5"] = "onnx"  # which fp32 model its builders start from
    needs: tuple[tuple[str, str], ...] = ()  # (module, pip extra) its builder and runner import
    runtime_facts: str | None = None  # "module:function" (case, path) -> {fact: value}, asked of the runtime

    def missing(self) -> str | None:
        """A skip reason naming the extra to install when a module it needs is absent, else None."""
        from importlib.util import find_spec

        absent = [(m, extra) for m, extra in self.needs if find_spec(m) is None]
        if not absent:
            return None
        return (f"{self.label} needs {', '.join(m for m, _ in absent)}: "
                f"pip install -e '.[{','.join(dict.fromkeys(e for _, e in absent))}]'")

    def builder(self) -> Callable[..., None]:
        return resolve(self.build)

    def fp32_builder(self) -> Callable[..., None] | None:
        return resolve(self.build_fp32) if self.build_fp32 else None

    def runner(self) -> Callable[..., Any]:
        return resolve(self.run)

    @property
    def code_modules(self) -> tuple[str, ...]:
        """Modules whose source is part of the artifact cache key."""
        return tuple(dict.fromkeys(d.partition(":")[0] for d in (self.build, self.build_fp32) if d))


FRAMEWORKS: dict[str, Framework] = {}
FORMATS: dict[str, Format] = {}
FRAMEWORK_LABELS: dict[str, str] = {}  # name -> label, kept in step with FRAMEWORKS by register()


@dataclass(frozen=True)
class OrtQuant:
    """onnxruntime.quantization.quantize_static settings."""

    activation_type: Literal["QInt8", "QUInt8"]
    weight_type: Literal["QInt8", "QUInt8"]
    quant_format: Literal["QDQ", "QOperator"] = "QDQ"
    calibrate_method: Literal["MinMax", "Entropy", "Percentile"] = "MinMax"
    per_channel: bool = False
    reduce_range: bool = False
    preprocess: bool = False  # onnxruntime's quant_pre_process first (folds batch-norm Mul/Add into Conv)


@dataclass(frozen=True)
class LiteRTQuant:
    """tf.lite.TFLiteConverter full-integer post-training quantization settings."""

    optimizations: str = "DEFAULT"
    supported_ops: str = "TFLITE_BUILTINS_INT8"
    io_type: str = "int8"
    representative_dataset: str = "calibration draw, one image per step"


@dataclass(frozen=True)
class OvQuant:
    """OpenVINO: NNCF post-training quantization (preset; accuracy control on held-out training images), or
    none (`nncf=False`: the fp32 graph saved with fp16 weights), and the CPU plugin's precision hint at run time."""

    preset: Literal["performance", "mixed"] = "performance"
    precision_hint: Literal["f32", "default"] = "f32"
    nncf: bool = True
    accuracy_control: bool = False  # nncf.quantize_with_accuracy_control, max drop = --ptq-ov-max-drop

    @property
    def needs_validation(self) -> bool:
        return self.accuracy_control


@dataclass(frozen=True)
class TorchQuant:
    """torch.ao.quantization FX graph-mode settings."""

    engine: str = "fbgemm"
    weight_dtype: Literal["qint8", "quint8"] = "qint8"
    flow: Literal["fx", "pt2e"] = "fx"  # pt2e: torchao prepare_pt2e/convert_pt2e + X86InductorQuantizer
    reduce_range: bool = False  # pt2e only: 7-bit activations, for CPUs without VNNI


@dataclass(frozen=True)
class Case:
    """One model configuration of the matrix."""

    id: str
    framework: str  # a FRAMEWORKS key
    dtype: DType
    fmt: str  # a FORMATS key
    quant: OrtQuant | TorchQuant | LiteRTQuant | OvQuant | None = None
    unsupported: str | None = None  # reason, when the backend cannot build it
    matrix: Literal["seed", "full"] = "seed"  # "full" cases run with --ptq-matrix full

    @property
    def is_fp32(self) -> bool:
        return self.dtype == "fp32"

    @property
    def needs_validation(self) -> bool:
        """Its builder also takes held-out training images (disjoint from the calibration draw) with labels."""
        return bool(getattr(self.quant, "needs_validation", False))

    @property
    def baseline_id(self) -> str:
        """The fp32 model of the same framework this case is compared against."""
        return f"{FRAMEWORKS[self.framework].prefix}-fp32"

    @property
    def backend(self) -> Framework:
        return FRAMEWORKS[self.framework]

    def spec(self) -> dict[str, Any]:
        """Everything about the case that changes its artifact (part of the cache key)."""
        spec = asdict(self)
        spec.pop("matrix")
        return spec

    def __str__(self) -> str:  # pytest uses it for ids
        return self.id


@dataclass(frozen=True)
class Build:
    """A case evaluated on a deployment target (a targets.TARGETS key); its str is the test id."""

    case: Case
    target: str = "host"

    def __str__(self) -> str:
        return self.case.id if self.target == "host" else f"{self.case.id}@{self.target}"


def register(framework: Framework, formats: Mapping[str, Format]) -> None:
    """Add a framework and the formats its models are saved in."""
    FRAMEWORKS[framework.name] = framework
    FRAMEWORK_LABELS[framework.name] = framework.label
    FORMATS.update(formats)


def add(*new: Case) -> None:
    """Append cases to the matrix (ids must be new; framework and format registered)."""
    taken = {c.id for c in CASES}
    bad = [c.id for c in new if c.id in taken or c.framework not in FRAMEWORKS or c.fmt not in FORMATS]
    if bad:
        raise ValueError(f"cases {', '.join(bad)}: id already in the matrix, or framework/format not registered")
    _index(CASES + tuple(new))


def _index(all_cases: tuple[Case, ...]) -> None:
    global CASES, BY_ID, BUILDABLE, FP32, QUANTIZED, UNSUPPORTED
    CASES = all_cases
    BY_ID = {c.id: c for c in CASES}
    BUILDABLE = tuple(c for c in CASES if c.unsupported is None)
    FP32 = tuple(c for c in BUILDABLE if c.is_fp32)
    QUANTIZED = tuple(c for c in BUILDABLE if not c.is_fp32)
    UNSUPPORTED = tuple(c for c in CASES if c.unsupported is not None)


CASES: tuple[Case, ...] = ()
BY_ID: dict[str, Case] = {}
BUILDABLE = FP32 = QUANTIZED = UNSUPPORTED = CASES

ORT = Framework("onnxruntime", "ONNX Runtime", "ort", build="ptq_helpers.backends.ort:quantize",
                run="ptq_helpers.backends.evaluate:ort_runner",
                tools="ONNX Runtime `onnxruntime.quantization.quantize_static` (CalibrationDataReader over the "
                      "calibration images)")
TORCH = Framework("pytorch", "PyTorch", "torch", build="ptq_helpers.backends.pytorch:build_quantized",
                  build_fp32="ptq_helpers.backends.pytorch:build_fp32", run="ptq_helpers.backends.evaluate:torch_runner",
                  size_threshold="torch",
                  tools="PyTorch FX `torch.ao.quantization.quantize_fx` (`prepare_fx`, calibration passes, "
                        "`convert_fx`, `get_default_qconfig_mapping(engine)`), traced and saved as TorchScript; "
                        "PyTorch PT2E (`torch.export`, torchao `prepare_pt2e`/`convert_pt2e` with "
                        "`X86InductorQuantizer`), saved with `torch.export.save` and gated as the Inductor-compiled "
                        "module. PyTorch uint8 is refused: fbgemm requires qint8 weights")
LITERT = Framework("litert", "LiteRT", "litert", build="ptq_helpers.backends.litert:build_int8",
                   build_fp32="ptq_helpers.backends.litert:build_fp32", run="ptq_helpers.backends.litert:runner", source="h5",
                   needs=(("ai_edge_litert", "litert"), ("tensorflow", "litert")),
                   size_threshold="tflite",
                   tools="LiteRT `tf.lite.TFLiteConverter.from_keras_model` on the Keras .h5 (`Optimize.DEFAULT`, "
                         "representative dataset = the calibration images one per step, `TFLITE_BUILTINS_INT8`, int8 "
                         "input/output), run with ai-edge-litert's default kernels (XNNPACK)")
LITERT_FORMATS = {"tflite": Format("tflite", "TFLite flatbuffer")}
OPENVINO = Framework("openvino", "OpenVINO", "ov", build="ptq_helpers.backends.openvino:build_int8",
                     build_fp32="ptq_helpers.backends.openvino:build_fp32", run="ptq_helpers.backends.openvino:runner",
                     runtime_facts="ptq_helpers.backends.openvino:runtime_facts",
                     needs=(("openvino", "openvino"), ("nncf", "openvino")),
                     tools="OpenVINO `ov.convert_model` of the ONNX file and NNCF `nncf.quantize` (every calibration "
                           "image, `subset_size` = the draw) or `nncf.quantize_with_accuracy_control` (validation on "
                           "held-out training images, never test images), run on the CPU plugin with "
                           "`INFERENCE_PRECISION_HINT=f32` (the bf16 row: the plugin's default) and the LATENCY hint "
                           "for one image, THROUGHPUT (an async request queue) for batches")
OPENVINO_FORMATS = {"ir": Format("ir.zip", "OpenVINO IR (.xml + .bin, stored uncompressed in one zip)")}
ORT_FORMATS = {"onnx": Format("onnx", "ONNX"), "qdq": Format("onnx", "ONNX (QDQ)"),
               "qoperator": Format("onnx", "ONNX (QOperator)")}
TORCH_FORMATS = {"torchscript": Format("pt", "TorchScript"),
                 "pt2": Format("pt2", "torch.export (.pt2), compiled with Inductor at load")}

# Adding a configuration is one line here.
SEED: tuple[Case, ...] = (
    Case("ort-fp32", "onnxruntime", "fp32", "onnx"),
    Case("torch-fp32", "pytorch", "fp32", "torchscript"),
    Case("ort-int8-qdq", "onnxruntime", "int8", "qdq", OrtQuant("QInt8", "QInt8")),
    Case("ort-uint8-qdq", "onnxruntime", "uint8", "qdq", OrtQuant("QUInt8", "QUInt8")),
    Case("torch-int8-fx", "pytorch", "int8", "torchscript", TorchQuant("fbgemm", "qint8")),
    Case(
        "torch-uint8-fx", "pytorch", "uint8", "torchscript", TorchQuant("fbgemm", "quint8"),
        unsupported="fbgemm requires qint8 weights",
    ),
    Case("litert-fp32", "litert", "fp32", "tflite"),
    Case("litert-int8", "litert", "int8", "tflite", LiteRTQuant()),
    Case("ov-fp32", "openvino", "fp32", "ir"),
    Case("ov-int8-nncf", "openvino", "int8", "ir", OvQuant()),
)

_ORT_TYPES = {"s8s8": ("QInt8", "QInt8", False), "u8u8": ("QUInt8", "QUInt8", False),
              "u8s8": ("QUInt8", "QInt8", False), "u8s8rr": ("QUInt8", "QInt8", True)}
_DTYPE_OF = {"s8s8": "int8", "u8u8": "uint8", "u8s8": "u8s8", "u8s8rr": "u8s8"}
_METHODS = {"mm": "MinMax", "ent": "Entropy", "pct": "Percentile"}


def _ort(types: str, fmt: str, per_channel: bool, method: str, pre: bool) -> Case:
    act, wt, rr = _ORT_TYPES[types]
    slug = f"ort-{types}-{fmt}-{'pc' if per_channel else 'pt'}-{method}-{'pre' if pre else 'raw'}"
    quant = OrtQuant(act, wt, "QDQ" if fmt == "qdq" else "QOperator", _METHODS[method], per_channel, rr, pre)
    return Case(slug, "onnxruntime", _DTYPE_OF[types], fmt if fmt == "qdq" else "qoperator", quant, matrix="full")


# The full matrix: every QDQ combination of the axes, and QOperator for the pre-processed u8s8 graphs.
FULL: tuple[Case, ...] = tuple(
    _ort(t, "qdq", pc, m, pre)
    for t in _ORT_TYPES for pc in (False, True) for m in _METHODS for pre in (False, True)
    if not (t in ("s8s8", "u8u8") and m == "mm" and not pc and not pre)  # = the seed's ort-int8/uint8-qdq
) + tuple(_ort("u8s8", "qop", pc, m, True) for pc in (False, True) for m in ("mm", "pct"))

# PyTorch beyond FX/fbgemm: FX on the x86 engine, and PT2E lowered with torch.compile (gated compiled).
FULL += (
    Case("torch-int8-fx-x86", "pytorch", "int8", "torchscript", TorchQuant("x86", "qint8"), matrix="full"),
    Case("torch-int8-pt2e", "pytorch", "int8", "pt2", TorchQuant("x86", "qint8", "pt2e"), matrix="full"),
    Case("torch-int8-pt2e-rr", "pytorch", "int8", "pt2", TorchQuant("x86", "qint8", "pt2e", True), matrix="full"),
    Case("ov-int8-nncf-mixed", "openvino", "int8", "ir", OvQuant("mixed"), matrix="full"),
    Case("ov-int8-nncf-ac", "openvino", "int8", "ir", OvQuant(accuracy_control=True), matrix="full"),
    # OpenVINO's defaults: `ov.save_model` stores fp16 weights, the CPU plugin picks bf16 where the CPU has it
    Case("ov-bf16", "openvino", "bf16", "ir", OvQuant(precision_hint="default", nncf=False), matrix="full"),
)
register(ORT, ORT_FORMATS)
register(TORCH, TORCH_FORMATS)
register(LITERT, LITERT_FORMATS)
register(OPENVINO, OPENVINO_FORMATS)
add(*SEED, *FULL)


def selected(matrix: str) -> tuple[Case, ...]:
    """The cases a run with `--ptq-matrix matrix` covers."""
    return CASES if matrix == "full" else tuple(c for c in CASES if c.matrix == "seed")


def get(case_id: str) -> Case:
    """Look a case up by id."""
    try:
        return BY_ID[case_id]
    except KeyError:
        raise KeyError(f"unknown case id {case_id!r}; known: {', '.join(BY_ID)}") from None
