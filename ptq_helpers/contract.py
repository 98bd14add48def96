"""The model input/output contract: float32 NHWC (N,32,32,3) in, (N,10) probabilities out."""
from __future__ import annotations

from pathlib import Path

from ptq_helpers.errors import AssetError

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def check_onnx(path: Path) -> str:
    """Validate the fp32 ONNX model file; return its input name."""
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:
        raise AssetError(f"{path}: not a valid ONNX model ({type(exc).__name__}: {str(exc)[:200]}); "
                         f"replace it with resnet8.onnx or delete it so it is converted from the .h5") from None
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise AssetError(f"{path}: expected one input and one output, found {len(graph.input)} and "
                         f"{len(graph.output)}; export the model with a single image input and a softmax output")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in graph.input[0].type.tensor_type.shape.dim]
    if tuple(dims[1:]) != INPUT_SHAPE:
        raise AssetError(f"{path}: input {graph.input[0].name!r} has shape {dims}, expected (N, 32, 32, 3) NHWC; "
                         f"export with input_signature (None, 32, 32, 3) (e.g. python -m ptq_helpers.convert)")
    out = [d.dim_value if d.HasField("dim_value") else None for d in graph.output[0].type.tensor_type.shape.dim]
    if tuple(out[1:]) != (NUM_CLASSES,):
        raise AssetError(f"{path}: output has shape {out}, expected (N, 10) class probabilities; "
                         f"use the CIFAR-10 ResNet8 model")
    return graph.input[0].name
