"""The opt-in speed gate (--ptq-min-speedup X): in a benchmark run (no -n), every quantized build's batch-256
throughput over its own runtime's fp32, as a paired median ratio timed in this process, must reach X. Deselected
unless the option is set and benchmarks run (never under -n: the default gate run asserts no speed)."""
from __future__ import annotations

import pytest

from ptq_helpers.analysis import speed, speed_pick
from ptq_helpers.core import runtime
from ptq_helpers.core.isa import cpu_facts, summary
from ptq_helpers.matrix.thresholds import Thresholds
from fixtures.models import HostBuild
from tests.fakes import passes

pytestmark = [pytest.mark.real, pytest.mark.speed]


def test_speedup(benchmark, host_quantized_build: HostBuild, paired_speed, record_from_cache,
                 ptq_thresholds: Thresholds) -> None:
    # The paired rounds are the measurement; the benchmark fixture only keeps this test in --benchmark-only runs
    # (pytest-benchmark skips tests without it). It adds no row; marking it used (pytest-benchmark's own flag,
    # BenchmarkFixture._cleanup) keeps the "fixture was not used" warning, an error here, away.
    benchmark._mode = "paired rounds (ptq_helpers.analysis.paired)"
    build = host_quantized_build
    recorded = record_from_cache(build.case)
    where = recorded.record.where if recorded is not None and recorded.record.cpu else (
        f"{build.case.id} (on {runtime.cpu_name()}: {summary(cpu_facts())})")
    fig = paired_speed(build.case, build.artifact, speed.THROUGHPUT_BATCH).get("vs_fp32")
    passes(speed_pick.speed_gate(where, speed.THROUGHPUT_BATCH, fig, ptq_thresholds.min_speedup))
