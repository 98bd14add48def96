"""MLPerf Tiny's int8 TFLite model as a reference row (ai-edge-litert; optional extra `tflite`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

BATCH = 500
NOTE = "MLPerf Tiny's own int8 TFLite, calibrated on 500 TEST images: a reference, not comparable or gated"


def predict(model: Path, pixels: np.ndarray, threads: int) -> np.ndarray:
    """Top-1 class ids for NHWC uint8 pixels; the model's int8 input is pixel - 128."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    preds = []
    for i in range(0, len(pixels), BATCH):
        chunk = (pixels[i:i + BATCH].astype(np.int16) - 128).astype(np.int8)
        if tuple(inp["shape"]) != chunk.shape:
            interpreter.resize_tensor_input(inp["index"], list(chunk.shape))
            interpreter.allocate_tensors()
            inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        preds.append(interpreter.get_tensor(out["index"]).argmax(axis=1))
    return np.concatenate(preds)
