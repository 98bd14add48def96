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
from fixtures.models import HostBuild

pytestmark = pytest.mark.real


@pytest.mark.benchmark(warmup=True, warmup_iterations=10, disable_gc=True, min_rounds=10, max_time=2.0)
@pytest.mark.parametrize("batch", speed.BATCHES, ids=lambda b: f"batch{b}")
def test_inference_speed(benchmark, host_build: HostBuild, runner: Runner, batch: int, test_split, ptq_store,
                         ptq_session, record_from_cache, paired_speed) -> None:
    """Times the built file the gate evaluates (the same cache entry), then alternately with its fp32 baseline and
    the reference fp32 (paired ratios); records its accuracy from the gate's cached predictions, never evaluating
    the test set itself."""
    model = host_build
    x = np.ascontiguousarray(test_split.images(np.arange(batch)))  # in the model's contract, outside the timing
    benchmark.group = f"batch {batch}" + (" (latency)" if batch == speed.LATENCY_BATCH else " (throughput)")
    versions = ptq_store.versions
    benchmark.extra_info.update({
        "model": model.case.id, "framework": model.case.framework, "dtype": model.case.dtype, "batch": batch,
        "model_bytes": model.artifact.size, "model_sha256": model.artifact.sha256,
        "threads": ptq_store.settings.threads,
        "cpu": runtime.cpu_name(),
        "versions": {k: versions[k] for k in ("python", "onnxruntime", "torch", "onnx2torch", "numpy")},
    })
    outputs = benchmark(runner, x)
    probs = test_split.contract.probabilities(outputs)  # a logits model's outputs, read as the gate reads them
    assert probs.shape == (batch, 10)
    # probabilities, as the gate reads them (int8 softmax outputs come in steps of 1/256)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.05)
    gated = ptq_store.cached_predictions(model.case, model.artifact)
    if gated is not None:  # this run's settings already evaluated it: the timed model answers as the gated one
        np.testing.assert_array_equal(probs.argmax(1), gated[:batch].argmax(1))
    if benchmark.disabled or benchmark.stats is None:
        return
    recorded = record_from_cache(model.case)  # None: the gate never evaluated it (the report says so)
    if recorded is not None:
        benchmark.extra_info.update(accuracy=recorded.record.accuracy)
    stats = benchmark.stats.stats
    bare = speed.bare_loop_median(runner, x, rounds=stats.rounds)
    fig = speed.figures(stats.median, batch, bare, stats.rounds, stats.iqr, stats.max)
    fig.update(paired_speed(model.case, model.artifact, batch))  # vs_fp32, vs_reference: ratio, ci, pairs
    benchmark.extra_info.update(images_per_s=fig["images_per_s"], bare_loop_median_ms=fig["bare_loop_median_ms"])
    ptq_session.results.add_benchmark(model.case.id, batch, fig)
