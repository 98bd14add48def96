"""The model input/output contract: float32 NHWC (N,32,32,3) in, (N,10) probabilities out."""
from __future__ import annotations

from pathlib import Path

from ptq_helpers.errors import AssetError

INPUT_NAME = "input"
INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def check_onnx(path: Path) -> str:
    """Validate the fp32 ONNX model file against the contract; return its input name."""
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:
        raise AssetError(f"{path}: not a valid ONNX model ({type(exc).__name__}: {str(exc)[:200]}); "
                         f"replace it with resnet8.onnx or delete it so it is converted from the .h5") from None
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]  # old IR versions list weights as inputs
    if len(inputs) != 1 or len(graph.output) != 1:
        raise AssetError(f"{path}: expected one input and one output, found {len(inputs)} and "
                         f"{len(graph.output)}; export the model with a single image input and a softmax output")
    image = inputs[0]
    if image.name != INPUT_NAME:
        raise AssetError(f"{path}: input is named {image.name!r}, the suite expects {INPUT_NAME!r}; re-export with "
                         f"input_signature name {INPUT_NAME!r} (python -m ptq_helpers.convert does)")
    if image.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        kind = onnx.TensorProto.DataType.Name(image.type.tensor_type.elem_type)
        raise AssetError(f"{path}: input {INPUT_NAME!r} is {kind}, expected FLOAT (float32 pixels 0..255); "
                         f"export the fp32 model, not a quantized one")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in image.type.tensor_type.shape.dim]
    if tuple(dims[1:]) != INPUT_SHAPE:
        raise AssetError(f"{path}: input {INPUT_NAME!r} has shape {dims}, expected (N, 32, 32, 3) NHWC; "
                         f"export with input_signature (None, 32, 32, 3) (e.g. python -m ptq_helpers.convert)")
    out = [d.dim_value if d.HasField("dim_value") else None for d in graph.output[0].type.tensor_type.shape.dim]
    if tuple(out[1:]) != (NUM_CLASSES,):
        raise AssetError(f"{path}: output has shape {out}, expected (N, 10) class probabilities; "
                         f"use the CIFAR-10 ResNet8 model")
    return INPUT_NAME
