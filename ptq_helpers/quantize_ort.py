"""ONNX Runtime static quantization (quantize_static) of the fp32 ONNX model."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from ptq_helpers.cases import Case, OrtQuant

CALIBRATION_BATCH = 100


class _Reader:
    """CalibrationDataReader over an in-memory float32 NHWC array."""

    def __init__(self, input_name: str, images: np.ndarray, batch: int = CALIBRATION_BATCH) -> None:
        self._batches = iter([{input_name: images[i:i + batch]} for i in range(0, len(images), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize(case: Case, source: Path, calibration: np.ndarray, dest: Path) -> None:
    """Write the case's quantized model to dest (which the caller makes atomic)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    q = case.quant
    assert isinstance(q, OrtQuant), case
    import onnx

    input_name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    # quantize_static writes its augmented model next to a temp path; keep it out of the cache folder.
    with tempfile.TemporaryDirectory(prefix="ptq-ort-") as work:
        out = Path(work) / "model.onnx"
        quantize_static(
            str(source),
            str(out),
            _Reader(input_name, calibration),
            quant_format=QuantFormat[q.quant_format],
            activation_type=QuantType[q.activation_type],
            weight_type=QuantType[q.weight_type],
            per_channel=q.per_channel,
            reduce_range=q.reduce_range,
            calibrate_method=CalibrationMethod[q.calibrate_method],
        )
        shutil.copyfile(out, dest)
