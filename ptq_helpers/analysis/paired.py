"""Paired speed ratios: a build and a baseline timed alternately in one process, with a 95% interval.

A pair is two adjacent **blocks**: the build (A) run back to back for a while, then the baseline (B), the order
alternating from one pair to the next (A B, B A, A B, ...) so that a drift of the machine (another process starting,
the CPU clocking down) falls on both sides. Each block first runs untimed for a settling window: runtimes keep
their worker threads spinning after a call (ONNX Runtime's intra-op pool spins for tens of milliseconds by default,
XNNPACK's and OpenVINO's pools spin too), and on a few cores the previous runtime's spinners slow the next one down.
Measured on a 2-vCPU EPYC: an OpenVINO int8 call at batch 256 took 21-23 ms right after an ONNX Runtime call and
12 ms once ORT's threads had gone quiet 50 ms later; timing call by call alternately therefore measured the
interference, not the builds. A block's figure is the median of its timed calls; a pair's ratio is B's / A's: the
build's speedup over the baseline (> 1 faster).

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

MIN_PAIRS = 10  # at least this many pairs, whatever the time budget (k = 2: a 97.9% interval)
MAX_PAIRS = 200
BUDGET_S = 2.0  # per build, batch and baseline: pairs are timed until both MIN_PAIRS and this are reached
SETTLE_S = 0.06  # untimed running at the start of each block: the other runtime's spinning threads go quiet
BLOCK_S = 0.1  # then timed calls for at least this long (and at least MIN_CALLS calls)
MIN_CALLS = 3
LEVEL = 0.95
METHOD = ("paired blocks timed alternately in one process (A B, B A, ...; each block runs "
          f"{SETTLE_S * 1e3:.0f} ms untimed so the other runtime's spinning threads go quiet, then at least "
          f"{BLOCK_S * 1e3:.0f} ms and {MIN_CALLS} calls timed, the block's figure their median; at least {MIN_PAIRS} "
          f"pairs and {BUDGET_S:g} s per build, batch and baseline); ratio = baseline time / build time (speedup, > 1 "
          "faster), the median of the per-pair ratios with the distribution-free order-statistic 95% interval for a "
          "median (binomial ranks)")


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


def block(run: Callable[[np.ndarray], Any], x: np.ndarray, settle_s: float = SETTLE_S, block_s: float = BLOCK_S,
          min_calls: int = MIN_CALLS) -> float:
    """Median seconds per call of `run` over one block: untimed calls for `settle_s` (at least one), then timed
    calls for at least `block_s` and `min_calls`."""
    start = time.perf_counter()
    run(x)
    while time.perf_counter() - start < settle_s:
        run(x)
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - begin < block_s:
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_pairs(model: Callable[[np.ndarray], Any], base: Callable[[np.ndarray], Any], x: np.ndarray,
               budget_s: float = BUDGET_S, min_pairs: int = MIN_PAIRS, max_pairs: int = MAX_PAIRS,
               settle_s: float = SETTLE_S, block_s: float = BLOCK_S) -> tuple[list[float], list[float]]:
    """Seconds per call of `model` and of `base`, pair by pair of blocks (see `block`), timed alternately (order
    flipping every pair), GC off; until min_pairs and budget_s are both reached (or max_pairs)."""
    def once(run: Callable[[np.ndarray], Any]) -> float:
        return block(run, x, settle_s, block_s)

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
