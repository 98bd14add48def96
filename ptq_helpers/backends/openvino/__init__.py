"""The OpenVINO wing: NNCF post-training quantization, the CPU plugin's runner and runtime facts (`backend`)."""
from __future__ import annotations

from ptq_helpers.backends.openvino.backend import FORMATS, FRAMEWORK, OvQuant
from ptq_helpers.matrix.cases import Case

FRAMEWORKS = (FRAMEWORK,)

CASES: tuple[Case, ...] = (
    Case("ov-fp32", "openvino", "fp32", "ir"),
    Case("ov-int8-nncf", "openvino", "int8", "ir", OvQuant()),
    Case("ov-int8-nncf-mixed", "openvino", "int8", "ir", OvQuant("mixed"), matrix="full"),
    Case("ov-int8-nncf-ac", "openvino", "int8", "ir", OvQuant(accuracy_control=True), matrix="full"),
    # OpenVINO's defaults: `ov.save_model` stores fp16 weights, the CPU plugin picks bf16 where the CPU has it
    Case("ov-bf16", "openvino", "bf16", "ir", OvQuant(precision_hint="default", nncf=False), matrix="full"),
)
