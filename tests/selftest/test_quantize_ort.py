"""The ONNX Runtime builder's vectorised Entropy search gives ORT's own thresholds, on the real ResNet8's
activations."""
from __future__ import annotations

from pathlib import Path

import pytest

from ptq_helpers.backends.onnxruntime import backend as quantize_ort


@pytest.mark.real
def test_vectorised_entropy_search_finds_ort_s_own_thresholds_on_the_real_model(ptq_store, train_split,
                                                                               tmp_path: Path) -> None:
    """Same thresholds as ORT's `get_entropy_threshold`, bit for bit, on every activation of ResNet8."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, HistogramCollector, create_calibrator

    calibrator = create_calibrator(
        str(ptq_store.source), None, augmented_model_path=str(tmp_path / "augmented.onnx"),
        calibrate_method=CalibrationMethod.Entropy,
        extra_options={"num_bins": quantize_ort.ENTROPY_BINS,
                       "num_quantized_bins": quantize_ort.ENTROPY_QUANTIZED_BINS})
    calibrator.collect_data(quantize_ort.CalibrationReader("input",
                                                           train_split.images(ptq_store.calibration_indices[::5])))
    histograms = calibrator.collector.histogram_dict
    assert len(histograms) >= 20
    for name in sorted(histograms)[::6]:  # a sixth of the tensors: ORT's own search is the slow part
        ours = quantize_ort.entropy_threshold(histograms[name], quantize_ort.ENTROPY_QUANTIZED_BINS)
        theirs = HistogramCollector.get_entropy_threshold(calibrator.collector, histograms[name],
                                                          quantize_ort.ENTROPY_QUANTIZED_BINS)
        assert [float(v) for v in ours] == [float(v) for v in theirs], name
        assert [v.dtype for v in ours] == [v.dtype for v in theirs], name
