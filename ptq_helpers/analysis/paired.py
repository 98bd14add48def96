"""Paired speed ratios: a build and a baseline timed alternately in one process, with a 95% interval.

Each pair times the build (A) and the baseline (B) back to back on the same input, the order alternating from one
pair to the next (A B, B A, A B, ...) so that a drift of the machine (another process starting, the CPU clocking down)
falls on both sides. A pair's ratio is B's time / A's time: the build's speedup over the baseline (> 1 faster).

The ratio reported is the median of the per-pair ratios, and its 95% interval is the distribution-free
order-statistic interval for a median: with n pair ratios sorted r(1) <= ... <= r(n), [r(k), r(n+1-k)] where k is the
largest rank with P(Binomial(n, 1/2) <= k - 1) <= 2.5%; it covers the median of the ratio distribution with
probability at least 95% whatever that distribution is (pairs assumed independent; n >= 6 needed).
"""
from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MIN_PAIRS = 15  # at least this many pairs, whatever the time budget (k = 4: a 96.5% interval)
MAX_PAIRS = 200
BUDGET_S = 2.0  # per build, batch and baseline: pairs are timed until both MIN_PAIRS and this are reached
LEVEL = 0.95
METHOD = ("paired rounds timed alternately in one process (A B, B A, ...; at least "
          f"{MIN_PAIRS} pairs and {BUDGET_S:g} s per build, batch and baseline); ratio = baseline time / build time "
          "(speedup, > 1 faster), the median of the per-pair ratios with the distribution-free order-statistic 95% "
          "interval for a median (binomial ranks)")


def median_rank(n: int, level: float = LEVEL) -> int:
    """The rank k (1-based) of the lower end of the order-statistic interval for the median of n values: the
    largest k with P(Binomial(n, 1/2) <= k - 1) <= (1 - level) / 2; 0 when n is too small for any interval."""
    alpha = (1 - level) / 2
    k, cdf = 0, 0.0
    for j in range(n + 1):  # cdf = P(X <= j)
        cdf += math.comb(n, j) / 2 ** n
        if cdf > alpha:
            break
        k = j + 1
    return k


def median_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(median, low, high) of `values` with the order-statistic interval of the median (see the module doc)."""
    n = len(values)
    k = median_rank(n, level)
    if k < 1:
        raise ValueError(f"{n} paired rounds give no {level:.0%} interval for a median; time at least 6 pairs")
    ordered = sorted(values)
    return statistics.median(ordered), ordered[k - 1], ordered[n - k]


def summarize(model_s: Sequence[float], base_s: Sequence[float], baseline: str, batch: int) -> dict[str, Any]:
    """The JSON figures of paired timings (seconds per call of the build and of the baseline, pair by pair)."""
    if len(model_s) != len(base_s):
        raise ValueError(f"paired timings need as many build rounds as baseline rounds ({len(model_s)} vs "
                         f"{len(base_s)})")
    ratios = [b / a for a, b in zip(model_s, base_s)]
    ratio, lo, hi = median_interval(ratios)
    model_med, base_med = statistics.median(model_s), statistics.median(base_s)
    return {"baseline": baseline, "ratio": round(ratio, 4), "ci": [round(lo, 4), round(hi, 4)],
            "pairs": len(ratios), "model_ms": round(model_med * 1e3, 4), "baseline_ms": round(base_med * 1e3, 4),
            "model_images_per_s": round(batch / model_med, 1), "baseline_images_per_s": round(batch / base_med, 1)}


def time_pairs(model: Callable[[np.ndarray], Any], base: Callable[[np.ndarray], Any], x: np.ndarray,
               budget_s: float = BUDGET_S, min_pairs: int = MIN_PAIRS,
               max_pairs: int = MAX_PAIRS) -> tuple[list[float], list[float]]:
    """Seconds per call of `model` and of `base`, pair by pair, timed alternately (order flipping every pair), GC
    off, after one warm-up call of each; until min_pairs and budget_s are both reached (or max_pairs)."""
    def once(run: Callable[[np.ndarray], Any]) -> float:
        t0 = time.perf_counter()
        run(x)
        return time.perf_counter() - t0

    model(x), base(x)  # warm-up
    a_times: list[float] = []
    b_times: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(a_times) < max_pairs and (len(a_times) < min_pairs or time.perf_counter() - start < budget_s):
            if len(a_times) % 2 == 0:
                a, b = once(model), once(base)
            else:
                b, a = once(base), once(model)
            a_times.append(a)
            b_times.append(b)
    finally:
        if gc_was_enabled:
            gc.enable()
    return a_times, b_times
