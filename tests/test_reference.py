"""Reference row: MLPerf Tiny's own int8 TFLite model, measured on the same 10,000 images (not gated)."""
from __future__ import annotations

import importlib.util

import pytest

from ptq_helpers import tflite_ref
from ptq_helpers.evaluate import score
from ptq_helpers.fixtures import explained
from ptq_helpers.run_results import Reference

pytestmark = [
    pytest.mark.real,
    pytest.mark.full_matrix,
    pytest.mark.skipif(importlib.util.find_spec("ai_edge_litert") is None,
                       reason="needs ai-edge-litert: pip install -e '.[tflite]'"),
]


def test_mlperf_tflite_int8_reference(ptq_store, test_split, ptq_session) -> None:
    model = explained(ptq_store.settings.assets.tflite_int8_model)
    metrics = score(tflite_ref.predict(model, test_split.pixels, ptq_store.settings.threads), test_split.labels)
    assert metrics.total == 10_000 and metrics.correct > 0
    ptq_session.results.add_reference(Reference(
        id="mlperf-tflite-int8", framework="tflite", dtype="int8", correct=metrics.correct, total=metrics.total,
        accuracy=round(metrics.accuracy, 4), size_bytes=model.stat().st_size, note=tflite_ref.NOTE))
