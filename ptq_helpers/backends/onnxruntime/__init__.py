"""The ONNX Runtime wing: static quantization (`backend`: builder, runner, runtime facts), the per-layer SQNR of
a QDQ build (`layers`), and its rows of the matrix."""
from __future__ import annotations

from ptq_helpers.backends.onnxruntime.backend import FORMATS, FRAMEWORK, OrtQuant
from ptq_helpers.matrix.cases import Case

FRAMEWORKS = (FRAMEWORK,)

_TYPES = {"s8s8": ("QInt8", "QInt8", False), "u8u8": ("QUInt8", "QUInt8", False),
          "u8s8": ("QUInt8", "QInt8", False), "u8s8rr": ("QUInt8", "QInt8", True)}
_DTYPE_OF = {"s8s8": "int8", "u8u8": "uint8", "u8s8": "u8s8", "u8s8rr": "u8s8"}
_METHODS = {"mm": "MinMax", "ent": "Entropy", "pct": "Percentile"}


def _ort(types: str, fmt: str, per_channel: bool, method: str, pre: bool, matrix: str = "full") -> Case:
    act, wt, rr = _TYPES[types]
    slug = f"ort-{types}-{fmt}-{'pc' if per_channel else 'pt'}-{method}-{'pre' if pre else 'raw'}"
    quant = OrtQuant(act, wt, "QDQ" if fmt == "qdq" else "QOperator", _METHODS[method], per_channel, rr, pre)
    return Case(slug, "onnxruntime", _DTYPE_OF[types], fmt if fmt == "qdq" else "qoperator", quant, matrix=matrix)


SEED: tuple[Case, ...] = (
    Case("ort-fp32", "onnxruntime", "fp32", "onnx"),
    Case("ort-int8-qdq", "onnxruntime", "int8", "qdq", OrtQuant("QInt8", "QInt8")),
    Case("ort-uint8-qdq", "onnxruntime", "uint8", "qdq", OrtQuant("QUInt8", "QUInt8")),
    # the fast integer build on x86: batch norm folded (quant_pre_process), uint8 activations and per-channel int8
    # weights, so the CPU EP fuses every Conv into QLinearConv (docs/executed-precision.md)
    _ort("u8s8", "qdq", True, "mm", True, matrix="seed"),
)

# The full matrix: every QDQ combination of the axes, and QOperator for the pre-processed u8s8 graphs.
FULL: tuple[Case, ...] = tuple(
    _ort(t, "qdq", pc, m, pre)
    for t in _TYPES for pc in (False, True) for m in _METHODS for pre in (False, True)
    if not (t in ("s8s8", "u8u8") and m == "mm" and not pc and not pre)  # = the seed's ort-int8/uint8-qdq
    and not (t == "u8s8" and pc and m == "mm" and pre)  # = the seed's fast build
) + tuple(_ort("u8s8", "qop", pc, m, True) for pc in (False, True) for m in ("mm", "pct"))

# 16-bit activations or 4-bit weights for the micro-controller matrix: accuracy only, emulated on CPU
# (OrtQuant.emulated)
MCU: tuple[Case, ...] = (
    Case("ort-a16w8-qdq-pc", "onnxruntime", "a16w8", "qdq", OrtQuant("QUInt16", "QInt8", per_channel=True),
         matrix="mcu"),
    Case("ort-w4a8-qdq-pc", "onnxruntime", "w4a8", "qdq", OrtQuant("QUInt8", "QInt4", per_channel=True),
         matrix="mcu"),
)

CASES = SEED + MCU + FULL
