"""Speed in the decision, on synthetic numbers: the paired ratio and its interval, the Pareto front, the fastest
build with its tie rule, the speed gate's message and option, and the report's speed section."""
from __future__ import annotations

import argparse
import math
import statistics

import time

import numpy as np
import pytest

from ptq_helpers.analysis import paired, speed_pick
from ptq_helpers.analysis.speed_pick import Candidate
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.pytest_plugin.options import speedup_factor
from ptq_helpers.report import document as report
from tests import fakes


# --- the paired ratio and its interval ----------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "k"), [(5, 0), (6, 1), (15, 4), (20, 6), (100, 40)])
def test_median_rank_is_the_binomial_rank(n: int, k: int) -> None:
    assert paired.median_rank(n) == k
    if k:  # the interval [r(k), r(n+1-k)] covers the median with probability >= 95%, and k is the largest such rank
        below = sum(math.comb(n, j) for j in range(k)) / 2 ** n
        assert below <= 0.025 < below + math.comb(n, k) / 2 ** n


def test_median_interval_of_known_values() -> None:
    assert paired.median_interval([float(v) for v in range(15, 0, -1)]) == (8.0, 4.0, 12.0)
    with pytest.raises(ValueError, match="at least 6 pairs"):
        paired.median_interval([1.0, 2.0, 3.0, 4.0, 5.0])


def test_median_interval_covers_the_true_median_at_least_95_percent() -> None:
    rng = np.random.default_rng(3)
    true_median = 1.7  # log-normal ratios around it, skewed like timings
    hits = 0
    for _ in range(2000):
        ratios = true_median * np.exp(rng.normal(0, 0.3, size=15))
        _, lo, hi = paired.median_interval(list(ratios))
        hits += lo <= true_median <= hi
    assert 0.95 <= hits / 2000 <= 0.99  # 96.5% by construction at n = 15


def test_summarize_is_baseline_time_over_build_time() -> None:
    model = [0.010] * 8 + [0.012] * 8
    base = [0.020] * 16
    fig = paired.summarize(model, base, "ort-fp32", 256)
    assert fig["baseline"] == "ort-fp32" and fig["pairs"] == 16
    assert fig["ratio"] == pytest.approx(statistics.median([b / a for a, b in zip(model, base)]), abs=1e-4)
    assert fig["ci"][0] <= fig["ratio"] <= fig["ci"][1]
    assert fig["model_images_per_s"] == pytest.approx(256 / 0.011, rel=1e-3)
    with pytest.raises(ValueError, match="as many build rounds"):
        paired.summarize(model, base[:-1], "ort-fp32", 256)


def test_time_pairs_alternates_blocks_and_reaches_the_minimum() -> None:
    calls: list[str] = []
    a_times, b_times = paired.time_pairs(lambda x: calls.append("A"), lambda x: calls.append("B"), np.zeros(1),
                                         budget_s=0.0, min_pairs=6, settle_s=0.0, block_s=0.0)
    assert len(a_times) == len(b_times) == 6
    # each block: one untimed settling call, then MIN_CALLS timed calls; the order flips every pair
    blocks = ["A" * (1 + paired.MIN_CALLS), "B" * (1 + paired.MIN_CALLS)]
    assert "".join(calls) == "".join(blocks[::1 if i % 2 == 0 else -1][0] + blocks[::1 if i % 2 == 0 else -1][1]
                                     for i in range(6))


def test_a_block_settles_untimed_before_it_times() -> None:
    """The untimed settling window (the previous runtime's spinning threads) is not in the block's figure."""
    state = {"calls": 0}

    def run(x: np.ndarray) -> None:  # slow while 'disturbed' (the first calls), fast afterwards
        state["calls"] += 1
        time.sleep(0.02 if state["calls"] <= 2 else 0.001)

    assert paired.block(run, np.zeros(1), settle_s=0.03, block_s=0.01) < 0.005


# --- Pareto and the fastest build ---------------------------------------------------------------------------------
def cand(key: str, acc: float, size: int, lat: float, ips: float, ratio: float | None = None,
         ci: tuple[float, float] | None = None, batch: str = "256") -> Candidate:
    vs = {batch: {"baseline": "ort-fp32", "ratio": ratio, "ci": list(ci), "pairs": 20}} if ratio else None
    return Candidate(key, acc, size, lat, ips, vs)


def test_pareto_drops_only_dominated_builds() -> None:
    a = cand("a", 86.0, 100, 0.2, 5000)
    b = cand("b", 86.5, 150, 0.3, 4000)  # more accurate: kept
    c = cand("c", 85.9, 120, 0.25, 4500)  # worse than a everywhere: dropped
    d = cand("d", 86.0, 100, 0.2, 5000)  # equal to a: neither dominates
    e = Candidate("e", 90.0, 10, None, None)  # untimed: not on the front
    assert [x.key for x in speed_pick.pareto([a, b, c, d, e])] == ["a", "b", "d"]


def test_fastest_is_clear_when_no_interval_reaches_the_top() -> None:
    f = speed_pick.fastest([cand("slow", 87.0, 100, 0.3, 3000, 1.2, (1.1, 1.3)),
                            cand("fast", 86.0, 100, 0.2, 6000, 2.0, (1.8, 2.2))])
    assert (f.top.key, f.verdict, f.ship.key) == ("fast", "clear", "fast")


def test_fastest_is_a_tie_when_intervals_overlap_and_ships_the_most_accurate() -> None:
    f = speed_pick.fastest([cand("fast", 86.0, 100, 0.2, 6000, 2.0, (1.8, 2.2)),
                            cand("close", 87.0, 120, 0.2, 5900, 1.9, (1.7, 1.8)),
                            cand("far", 88.0, 90, 0.4, 3000, 1.2, (1.1, 1.3))])
    assert f.verdict == "tie" and [c.key for c in f.tied] == ["fast", "close"] and f.ship.key == "close"


def test_fastest_without_paired_ratios_ranks_by_the_medians() -> None:
    f = speed_pick.fastest([cand("a", 86.0, 100, 0.2, 6000), cand("b", 86.0, 100, 0.1, 5000)], batch=1)
    assert (f.top.key, f.verdict) == ("b", "no interval")
    assert speed_pick.fastest([], 256).verdict == "none"


# --- the speed gate -----------------------------------------------------------------------------------------------
FIG = {"baseline": "ort-fp32", "ratio": 1.31, "ci": [1.22, 1.40], "pairs": 18, "model_images_per_s": 5240.0,
       "baseline_images_per_s": 4000.0}


def test_speed_gate_message_names_both_figures_the_limit_and_the_option() -> None:
    where = "ort-int8-qdq (on Test CPU: avx2 (no avx512f))"
    msg = speed_pick.speed_gate(where, 256, FIG, 1.5)
    assert msg == ("ort-int8-qdq (on Test CPU: avx2 (no avx512f)): batch-256 throughput 5,240 img/s vs 4,000 img/s of "
                   "ort-fp32: speedup 1.31x (95% interval [1.22, 1.40], 18 paired rounds) is below 1.5x "
                   "(--ptq-min-speedup)")
    assert speed_pick.speed_gate(where, 256, FIG, 1.3) is None
    assert speed_pick.speed_gate(where, 256, FIG, None) is None
    assert "--ptq-min-speedup=1.5 cannot be checked" in speed_pick.speed_gate(where, 256, None, 1.5)


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1e9"])
def test_min_speedup_refuses_what_is_not_a_factor_above_0(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        speedup_factor(raw)
    assert speedup_factor("1.5") == 1.5


# --- the report ---------------------------------------------------------------------------------------------------
def _bench(ips: float, ratio: float, ci: tuple[float, float], own: tuple[float, float, float] | None = None) -> dict:
    vs_ref = {"baseline": "ort-fp32", "ratio": ratio, "ci": list(ci), "pairs": 20, "model_ms": 256e3 / ips,
              "model_images_per_s": ips, "baseline_images_per_s": ips / ratio}
    own_fig = dict(vs_ref, ratio=own[0], ci=list(own[1:])) if own else vs_ref
    at_1 = {"vs_reference": dict(vs_ref, model_ms=0.2), "vs_fp32": dict(own_fig, model_ms=0.2)}
    return {"1": {"median_ms": 0.2, "images_per_s": 5000.0, **at_1},
            "256": {"median_ms": 256e3 / ips, "images_per_s": ips, "vs_reference": vs_ref, "vs_fp32": own_fig}}


def test_report_weighs_speed_with_accuracy_and_says_tie() -> None:
    bench = {"ort-fp32": {"1": {"median_ms": 0.25, "images_per_s": 4000.0},
                          "256": {"median_ms": 64.0, "images_per_s": 4000.0}},
             "ort-int8-qdq": _bench(8000.0, 2.0, (1.8, 2.2)),
             "ort-uint8-qdq": _bench(7800.0, 1.95, (1.7, 1.85)),
             "ov-int8-nncf": _bench(9000.0, 2.2, (2.0, 2.4))}  # timed, never evaluated
    text = report.render(fakes.payload(bench=bench, th=Thresholds(min_speedup=1.9)))
    assert "## Accuracy × size × speed on this CPU" in text
    assert "| `ort-int8-qdq` | 86.12% (-1.07) | 122.5 KiB (61.0%) | 200 µs | 8,000 | 2.00x [1.80, 2.20] | " \
           "2.00x [1.80, 2.20] | 2.00x [1.80, 2.20] | pass |" in text
    assert "| `ov-int8-nncf` | not measured | - |" in text
    assert "accuracy not measured: run `pytest -n auto` first" in text
    # ort-uint8-qdq's 1.95x reaches ort-int8-qdq's interval: a tie, the more accurate uint8 build is shipped
    assert "- **Fastest passing build on this CPU:** ship `ort-uint8-qdq`" in text and "a **tie** with" in text
    assert "Tie rule:" in text and "†" not in text


def test_report_marks_paired_rounds_that_disagree_with_the_benchmark() -> None:
    fig = _bench(8000.0, 2.0, (1.8, 2.2))
    fig["256"]["vs_fp32"] = dict(fig["256"]["vs_fp32"], model_ms=2 * fig["256"]["median_ms"])
    text = report.render(fakes.payload(bench={"ort-int8-qdq": fig}))
    assert "| 2.00x [1.80, 2.20] † |" in text and "† the build ran over 1.25x slower" in text


def test_report_speed_gate_fails_a_slow_build() -> None:
    bench = {"ort-int8-qdq": _bench(8000.0, 2.0, (1.8, 2.2), own=(1.2, 1.1, 1.3))}
    text = report.render(fakes.payload(bench=bench, th=Thresholds(min_speedup=1.5)))
    assert "| `ort-int8-qdq` |" in text and "| FAIL: speedup |" in text
    assert "- **Speed gate** (batch-256 paired speedup vs own fp32 at least 1.5x, `--ptq-min-speedup`): failing: " \
           "`ort-int8-qdq`." in text
