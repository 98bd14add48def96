"""The catalog: every framework's registry entry and the one declarative model matrix.

A framework is one module here (its builder, runner, settings dataclass and `FRAMEWORK` entry, which declares its
options, size kind, libraries and code) plus its line in `register` below and its rows in the matrix; nothing
else in the suite names it. Importing this package imports no ML library: the entries name their builders and
runners by dotted path, resolved when a model is built or run.
"""
from __future__ import annotations

from ptq_helpers.backends import executorch, litert, litert_quantizer, litert_size, openvino, ort, pytorch
from ptq_helpers.backends.executorch import ExecuTorchQuant
from ptq_helpers.backends.litert import LiteRTQuant
from ptq_helpers.backends.litert_quantizer import LiteRTQuantizerQuant
from ptq_helpers.matrix.size_recipe import LayerWidth, SizeRecipe
from ptq_helpers.backends.openvino import OvQuant
from ptq_helpers.backends.ort import OrtQuant
from ptq_helpers.backends.pytorch import TorchQuant
from ptq_helpers.matrix.cases import Case, add, register

for _backend in (ort, pytorch, litert, litert_quantizer, litert_size, openvino, executorch):
    register(_backend.FRAMEWORK, _backend.FORMATS)

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


def _ort(types: str, fmt: str, per_channel: bool, method: str, pre: bool, matrix: str = "full") -> Case:
    act, wt, rr = _ORT_TYPES[types]
    slug = f"ort-{types}-{fmt}-{'pc' if per_channel else 'pt'}-{method}-{'pre' if pre else 'raw'}"
    quant = OrtQuant(act, wt, "QDQ" if fmt == "qdq" else "QOperator", _METHODS[method], per_channel, rr, pre)
    return Case(slug, "onnxruntime", _DTYPE_OF[types], fmt if fmt == "qdq" else "qoperator", quant, matrix=matrix)


# ONNX Runtime's fast integer build on x86, in the seed: batch norm folded (quant_pre_process), uint8 activations
# and per-channel int8 weights, so the CPU EP fuses every Conv into QLinearConv (docs/executed-precision.md).
ORT_FAST = _ort("u8s8", "qdq", True, "mm", True, matrix="seed")


# The full matrix: every QDQ combination of the axes, and QOperator for the pre-processed u8s8 graphs.
FULL: tuple[Case, ...] = tuple(
    _ort(t, "qdq", pc, m, pre)
    for t in _ORT_TYPES for pc in (False, True) for m in _METHODS for pre in (False, True)
    if not (t in ("s8s8", "u8u8") and m == "mm" and not pc and not pre)  # = the seed's ort-int8/uint8-qdq
    and not (t == "u8s8" and pc and m == "mm" and pre)  # = ORT_FAST
) + tuple(_ort("u8s8", "qop", pc, m, True) for pc in (False, True) for m in ("mm", "pct"))

# PyTorch beyond FX/fbgemm: FX on the x86 engine, and PT2E lowered with torch.compile (gated compiled).
FULL += (
    Case("torch-int8-fx-x86", "pytorch", "int8", "torchscript", TorchQuant("x86", "qint8"), matrix="full"),
    # Matched settings: FX with ONNX Runtime's MinMax recipe (8-bit asymmetric activations, symmetric int8
    # weights), per tensor like the seed's ort-int8-qdq and per channel like ort-s8s8-qdq-pc-mm-raw.
    Case("torch-int8-fx-pt-mm8", "pytorch", "int8", "torchscript",
         TorchQuant(weights="per_tensor", activations="minmax8", matches="ort-int8-qdq"), matrix="full"),
    Case("torch-int8-fx-pc-mm8", "pytorch", "int8", "torchscript",
         TorchQuant(weights="per_channel", activations="minmax8", matches="ort-s8s8-qdq-pc-mm-raw"), matrix="full"),
    # PyTorch's maintained int8 route on x86 (torchao PT2E, Inductor with freezing: oneDNN int8 kernels): in the
    # "fast" matrix, its cold evaluation (compiling for the batch shapes) costs more than the seed gate's budget.
    Case("torch-int8-pt2e", "pytorch", "int8", "pt2", TorchQuant("x86", "qint8", "pt2e"), matrix="full"),
    # ... with the ONNX MatMul as F.linear, which X86InductorQuantizer annotates: the fully connected layer int8 too
    Case("torch-int8-pt2e-linear", "pytorch", "int8", "pt2", TorchQuant("x86", "qint8", "pt2e", matmul_as_linear=True),
         matrix="fast"),
    Case("torch-int8-pt2e-rr", "pytorch", "int8", "pt2", TorchQuant("x86", "qint8", "pt2e", True), matrix="full"),
    Case("ov-int8-nncf-mixed", "openvino", "int8", "ir", OvQuant("mixed"), matrix="full"),
    Case("ov-int8-nncf-ac", "openvino", "int8", "ir", OvQuant(accuracy_control=True), matrix="full"),
    # OpenVINO's defaults: `ov.save_model` stores fp16 weights, the CPU plugin picks bf16 where the CPU has it
    Case("ov-bf16", "openvino", "bf16", "ir", OvQuant(precision_hint="default", nncf=False), matrix="full"),
    # ExecuTorch: PT2E with the XNNPACKQuantizer, lowered to the XNNPACK delegate (.pte).
    Case("et-fp32", "executorch", "fp32", "pte", matrix="fast"),
    Case("et-int8-xnnpack", "executorch", "int8", "pte", ExecuTorchQuant(), matrix="full"),
    # ... with the ONNX MatMul rewritten as F.linear, which the quantizer annotates: the fully connected layer int8 too
    Case("et-int8-xnnpack-linear", "executorch", "int8", "pte", ExecuTorchQuant(matmul_as_linear=True), matrix="fast"),
)

# The micro-controller builds beyond TFLiteConverter's int8 (--ptq-matrix=mcu; issue 30), gated like litert-int8 on
# TFLite Micro and the Ethos-U budgets.
MCU: tuple[Case, ...] = (
    # 16-bit activations, 8-bit weights, int32 bias (TFLM's and Vela's 16x8 kernels take it; the converter's default
    # is int64), int16 input and output
    Case("litert-int16x8", "litert", "a16w8", "tflite",
         LiteRTQuant(supported_ops="EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8", io_type="int16",
                     bias_type="int32"), matrix="mcu"),
    # per-channel W8A8 from litert-quantizer (min-max), on the float .tflite of litert-fp32
    Case("litert-w8a8-lq", "litert_quantizer", "int8", "tflite", LiteRTQuantizerQuant(), matrix="mcu"),
    # ONNX Runtime QDQ with 16-bit activations or 4-bit weights: accuracy only, emulated on CPU (OrtQuant.emulated)
    Case("ort-a16w8-qdq-pc", "onnxruntime", "a16w8", "qdq", OrtQuant("QUInt16", "QInt8", per_channel=True), matrix="mcu"),
    Case("ort-w4a8-qdq-pc", "onnxruntime", "w4a8", "qdq", OrtQuant("QUInt8", "QInt4", per_channel=True), matrix="mcu"),
)

# 4-bit weights that TFLite Micro runs (issue 30): every conv but the first at 4-bit weights rounded by GPTQ, the first
# conv and the dense layer (TFLM has no int8 x int4 FULLY_CONNECTED) W8A8 per channel: the recipe --ptq-search=size
# found and confirmed on 2026-12-06 (layers in its greedy order). docs/mcu-size.md has the measurements.
W4_GPTQ = SizeRecipe(tuple(LayerWidth(name) for name in ("conv2d_4_1", "conv2d_8_1", "conv2d_6_1", "conv2d_7_1",
                                                         "conv2d_1_2", "conv2d_3_1", "conv2d_2_1", "conv2d_5_1")),
                     origin="catalog")
MCU += (litert_size.case_of(W4_GPTQ, "litert-w4a8-gptq", matrix="mcu"),)
add(*SEED[:4], ORT_FAST, *SEED[4:], *MCU, *FULL)
