"""Convert the MLPerf Tiny Keras model to ONNX: python -m ptq_helpers.data.convert MODEL.h5 OUT.onnx."""
from __future__ import annotations

import sys

from ptq_helpers.data.contract import INPUT_NAME

OPSET = 15


def convert(h5_path: str, onnx_path: str) -> None:
    """tf2onnx.convert.from_keras, opset 15, input `input` of shape (None, 32, 32, 3)."""
    import tensorflow as tf
    import tf2onnx

    model = tf.keras.models.load_model(h5_path, compile=False, safe_mode=True)  # a Lambda layer is refused, not run
    spec = (tf.TensorSpec((None, 32, 32, 3), tf.float32, name=INPUT_NAME),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET, output_path=onnx_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m ptq_helpers.data.convert MODEL.h5 OUT.onnx")
    convert(sys.argv[1], sys.argv[2])
