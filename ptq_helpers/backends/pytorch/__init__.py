"""The PyTorch wing: FX and PT2E quantization (`backend`), its runtime facts (`facts`), and the torch module of an
ONNX file or a torch.export program (`torch_graph`, shared with the wings that start from a torch module)."""
from __future__ import annotations

from ptq_helpers.backends.pytorch.backend import FORMATS, FRAMEWORK, TorchQuant
from ptq_helpers.matrix.cases import Case

FRAMEWORKS = (FRAMEWORK,)

SEED: tuple[Case, ...] = (
    Case("torch-fp32", "pytorch", "fp32", "torchscript"),
    Case("torch-int8-fx", "pytorch", "int8", "torchscript", TorchQuant("fbgemm", "qint8")),
    Case("torch-uint8-fx", "pytorch", "uint8", "torchscript", TorchQuant("fbgemm", "quint8"),
         unsupported="fbgemm requires qint8 weights"),
)

# Beyond FX/fbgemm: FX on the x86 engine, and PT2E lowered with torch.compile (gated compiled).
FULL: tuple[Case, ...] = (
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
)

CASES = SEED + FULL
