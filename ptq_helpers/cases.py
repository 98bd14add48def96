"""The one declarative model matrix: every fixture, test, benchmark and report row comes from it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Framework = Literal["onnxruntime", "pytorch"]
DType = Literal["fp32", "int8", "uint8"]

FRAMEWORK_LABELS = {"onnxruntime": "ONNX Runtime", "pytorch": "PyTorch"}
DTYPE_LABELS = {"fp32": "float32", "int8": "int8", "uint8": "uint8"}


@dataclass(frozen=True)
class OrtQuant:
    """onnxruntime.quantization.quantize_static settings."""

    activation_type: Literal["QInt8", "QUInt8"]
    weight_type: Literal["QInt8", "QUInt8"]
    quant_format: Literal["QDQ", "QOperator"] = "QDQ"
    calibrate_method: Literal["MinMax", "Entropy", "Percentile"] = "MinMax"
    per_channel: bool = False
    reduce_range: bool = False


@dataclass(frozen=True)
class TorchQuant:
    """torch.ao.quantization FX graph-mode settings."""

    engine: str = "fbgemm"
    weight_dtype: Literal["qint8", "quint8"] = "qint8"


@dataclass(frozen=True)
class Case:
    """One model configuration of the matrix."""

    id: str
    framework: Framework
    dtype: DType
    fmt: str  # serialized format: "onnx", "qdq", "torchscript"
    quant: OrtQuant | TorchQuant | None = None
    unsupported: str | None = None  # reason, when the backend cannot build it
    notes: str = field(default="", compare=False)

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
        spec.pop("notes")
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

BY_ID: dict[str, Case] = {c.id: c for c in CASES}
BUILDABLE = tuple(c for c in CASES if c.unsupported is None)
FP32 = tuple(c for c in BUILDABLE if c.is_fp32)
QUANTIZED = tuple(c for c in BUILDABLE if not c.is_fp32)
UNSUPPORTED = tuple(c for c in CASES if c.unsupported is not None)


def get(case_id: str) -> Case:
    """Look a case up by id."""
    try:
        return BY_ID[case_id]
    except KeyError:
        raise KeyError(f"unknown case id {case_id!r}; known: {', '.join(BY_ID)}") from None
