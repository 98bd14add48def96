"""Reference rows: MLPerf Tiny's own int8 TFLite, measured on the same 10,000 images on each kernel set
(LiteRT's default XNNPACK on the host; TFLite Micro's reference kernels on the mcu target). Not gated:
it was calibrated on test images."""
from __future__ import annotations

import importlib.util

import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.backends.evaluate import score
from ptq_helpers.pytest_plugin.failures import explained
from ptq_helpers.results.run_results import Reference
from ptq_helpers.targets.registry import TARGETS

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(importlib.util.find_spec("ai_edge_litert") is None,
                       reason="needs ai-edge-litert: pip install -e '.[litert]'"),
]
NOTE = "MLPerf Tiny's own int8 TFLite, calibrated on 500 TEST images: a reference, not comparable or gated"


def test_mlperf_tflite_int8_reference(reference_target: str, ptq_store, test_split, ptq_session) -> None:
    """`reference_target`: host (LiteRT's default kernels) and, when in the run, mcu (TFLite Micro)."""
    target = TARGETS[reference_target]
    missing = target.missing_tool(cases.get("litert-int8"))
    if missing:
        pytest.skip(missing)
    model = explained(ptq_store.settings.assets.tflite_int8_model)
    predictions = explained(lambda: ptq_store.reference_predictions("mlperf-tflite-int8", model, target))
    metrics = score(predictions, test_split.labels)
    assert metrics.total == 10_000 and metrics.correct > 0
    ptq_session.results.add_reference(Reference(
        id="mlperf-tflite-int8", framework="litert", dtype="int8", correct=metrics.correct, total=metrics.total,
        accuracy=round(metrics.accuracy, 4), size_bytes=model.stat().st_size, note=NOTE, target=target.name,
        kernels=target.reference_kernels))
