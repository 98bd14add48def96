"""CPU inference timing for every model of the matrix (pytest-benchmark).

`pytest --benchmark-only` prints one table per batch size with all models side by side. Under
xdist pytest-benchmark disables timing, and these run once each as smoke tests.
"""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.analysis import speed
from ptq_helpers.core import runtime
from ptq_helpers.backends.evaluate import Runner
from ptq_helpers.store import ModelResult

pytestmark = pytest.mark.real


@pytest.mark.benchmark(warmup=True, warmup_iterations=10, disable_gc=True, min_rounds=10, max_time=2.0)
@pytest.mark.parametrize("batch", speed.BATCHES, ids=lambda b: f"batch{b}")
def test_inference_speed(benchmark, host_model: ModelResult, runner: Runner, batch: int, test_split, ptq_store,
                         ptq_session) -> None:
    model = host_model
    x = np.ascontiguousarray(test_split.images(np.arange(batch)))  # prepared outside the timed call
    benchmark.group = f"batch {batch}" + (" (latency)" if batch == speed.LATENCY_BATCH else " (throughput)")
    versions = ptq_store.versions
    benchmark.extra_info.update({
        "model": model.case.id, "framework": model.case.framework, "dtype": model.case.dtype, "batch": batch,
        "model_bytes": model.artifact.size, "accuracy": model.metrics.accuracy, "threads": ptq_store.settings.threads,
        "cpu": runtime.cpu_name(),
        "versions": {k: versions[k] for k in ("python", "onnxruntime", "torch", "onnx2torch", "numpy")},
    })
    probs = benchmark(runner, x)
    assert probs.shape == (batch, 10)
    np.testing.assert_allclose(probs.argmax(1), model.predictions[:batch])  # timed the model we gated
    if benchmark.disabled or benchmark.stats is None:
        return
    stats = benchmark.stats.stats
    bare = speed.bare_loop_median(runner, x, rounds=stats.rounds)
    fig = speed.figures(stats.median, batch, bare, stats.rounds, stats.iqr, stats.max)
    benchmark.extra_info.update(images_per_s=fig["images_per_s"], bare_loop_median_ms=fig["bare_loop_median_ms"])
    ptq_session.results.add_benchmark(model.case.id, batch, fig)
