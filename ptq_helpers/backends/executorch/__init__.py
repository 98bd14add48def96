"""The ExecuTorch wing: PT2E with the XNNPACKQuantizer lowered to the XNNPACK delegate (`backend`), and the
`.pte` reader of its runtime facts (`pte`)."""
from __future__ import annotations

from ptq_helpers.backends.executorch.backend import FORMATS, FRAMEWORK, ExecuTorchQuant
from ptq_helpers.matrix.cases import Case

FRAMEWORKS = (FRAMEWORK,)

CASES: tuple[Case, ...] = (
    Case("et-fp32", "executorch", "fp32", "pte", matrix="fast"),
    Case("et-int8-xnnpack", "executorch", "int8", "pte", ExecuTorchQuant(), matrix="full"),
    # ... with the ONNX MatMul rewritten as F.linear, which the quantizer annotates: the fully connected layer int8 too
    Case("et-int8-xnnpack-linear", "executorch", "int8", "pte", ExecuTorchQuant(matmul_as_linear=True), matrix="fast"),
)
