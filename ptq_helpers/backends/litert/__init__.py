"""The LiteRT wing: TFLiteConverter builds and the interpreter's runner and runtime facts (`backend`), a `.pt2`
source through litert-torch in its own environment (`pt2`, `pt2_child`, `torch_setup`), litert-quantizer's builds
(`quantizer`), 4-bit-weight builds from a per-layer recipe (`size`, `gptq`) and the search for one
(`size_search`)."""
from __future__ import annotations

from ptq_helpers.backends.litert import backend, quantizer, size
from ptq_helpers.backends.litert.backend import LiteRTQuant
from ptq_helpers.backends.litert.quantizer import LiteRTQuantizerQuant
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.size_recipe import LayerWidth, SizeRecipe

FRAMEWORKS = (backend.FRAMEWORK, quantizer.FRAMEWORK, size.FRAMEWORK)
FORMATS = {**backend.FORMATS, **quantizer.FORMATS, **size.FORMATS}

SEED: tuple[Case, ...] = (
    Case("litert-fp32", "litert", "fp32", "tflite"),
    Case("litert-int8", "litert", "int8", "tflite", LiteRTQuant()),
)

# 4-bit weights that TFLite Micro runs: every conv but the first at 4-bit weights rounded by GPTQ, the first conv
# and the dense layer (TFLM has no int8 x int4 FULLY_CONNECTED) W8A8 per channel; the recipe --ptq-search=size
# found (layers in its greedy order; docs/mcu-size.md).
W4_GPTQ = SizeRecipe(tuple(LayerWidth(name) for name in ("conv2d_4_1", "conv2d_8_1", "conv2d_6_1", "conv2d_7_1",
                                                         "conv2d_1_2", "conv2d_3_1", "conv2d_2_1", "conv2d_5_1")),
                     origin="catalog")

# The micro-controller builds beyond TFLiteConverter's int8 (--ptq-matrix=mcu), gated like litert-int8 on TFLite
# Micro and the Ethos-U budgets.
MCU: tuple[Case, ...] = (
    # 16-bit activations, 8-bit weights, int32 bias (TFLM's and Vela's 16x8 kernels take it; the converter's default
    # is int64), int16 input and output
    Case("litert-int16x8", "litert", "a16w8", "tflite",
         LiteRTQuant(supported_ops="EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8", io_type="int16",
                     bias_type="int32"), matrix="mcu"),
    # per-channel W8A8 from litert-quantizer (min-max), on the float .tflite of litert-fp32
    Case("litert-w8a8-lq", "litert_quantizer", "int8", "tflite", LiteRTQuantizerQuant(), matrix="mcu"),
    size.case_of(W4_GPTQ, "litert-w4a8-gptq", matrix="mcu"),
)

CASES = SEED + MCU
