"""The one declarative model matrix: every fixture, test, benchmark and report row comes from it."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Framework = Literal["onnxruntime", "pytorch"]
DType = Literal["fp32", "int8", "uint8", "u8s8"]

FRAMEWORK_LABELS = {"onnxruntime": "ONNX Runtime", "pytorch": "PyTorch"}
DTYPE_LABELS = {"fp32": "float32", "int8": "int8", "uint8": "uint8", "u8s8": "uint8 act/int8 wt"}


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
    framework: Framework
    dtype: DType
    fmt: str  # serialized format: "onnx", "qdq", "torchscript"
    quant: OrtQuant | TorchQuant | None = None
    unsupported: str | None = None  # reason, when the backend cannot build it
    matrix: Literal["seed", "full"] = "seed"  # "full" cases run with --ptq-matrix full

    @property
    def is_fp32(self) -> bool:
        return self.dtype == "fp32"

    @property
    def baseline_id(self) -> str:
        """The fp32 model of the same framework this case is compared against."""
        return f"{FRAMEWORK_PREFIX[self.framework]}-fp32"

    @property
    def label(self) -> str:
        return f"{FRAMEWORK_LABELS[self.framework]} {DTYPE_LABELS[self.dtype]}"

    def spec(self) -> dict[str, Any]:
        """Everything about the case that changes its artifact (part of the cache key)."""
        spec = asdict(self)
        spec.pop("matrix")
        return spec

    def __str__(self) -> str:  # pytest uses it for ids
        return self.id


FRAMEWORK_PREFIX = {"onnxruntime": "ort", "pytorch": "torch"}

# Adding a configuration is one line here.
CASES: tuple[Case, ...] = (
    Case("ort-fp32", "onnxruntime", "fp32", "onnx"),
    Case("torch-fp32", "pytorch", "fp32", "torchscript"),
    Case("ort-int8-qdq", "onnxruntime", "int8", "qdq", OrtQuant("QInt8", "QInt8")),
    Case("ort-uint8-qdq", "onnxruntime", "uint8", "qdq", OrtQuant("QUInt8", "QUInt8")),
    Case("torch-int8-fx", "pytorch", "int8", "torchscript", TorchQuant("fbgemm", "qint8")),
    Case(
        "torch-uint8-fx", "pytorch", "uint8", "torchscript", TorchQuant("fbgemm", "quint8"),
        unsupported="fbgemm requires qint8 weights",
    ),
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
)
CASES = CASES + FULL
BY_ID: dict[str, Case] = {c.id: c for c in CASES}
BUILDABLE = tuple(c for c in CASES if c.unsupported is None)
FP32 = tuple(c for c in BUILDABLE if c.is_fp32)
QUANTIZED = tuple(c for c in BUILDABLE if not c.is_fp32)
UNSUPPORTED = tuple(c for c in CASES if c.unsupported is not None)


def selected(matrix: str) -> tuple[Case, ...]:
    """The cases a run with `--ptq-matrix matrix` covers."""
    return CASES if matrix == "full" else tuple(c for c in CASES if c.matrix == "seed")


def get(case_id: str) -> Case:
    """Look a case up by id."""
    try:
        return BY_ID[case_id]
    except KeyError:
        raise KeyError(f"unknown case id {case_id!r}; known: {', '.join(BY_ID)}") from None
