"""Timing figures from pytest-benchmark, a bare-loop reference, and the speed summary table."""
from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ptq_helpers.matrix import cases

LATENCY_BATCH = 1
THROUGHPUT_BATCH = 256
BATCHES = (LATENCY_BATCH, THROUGHPUT_BATCH)


def bare_loop_median(run: Callable[[np.ndarray], Any], x: np.ndarray, rounds: int, budget_s: float = 2.0) -> float:
    """Median seconds per call of a plain timed loop (GC off, like the benchmark), for overhead checks."""
    times: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(times) < rounds and (time.perf_counter() - start < budget_s or len(times) < 5):
            t0 = time.perf_counter()
            run(x)
            times.append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(times)


# A timing is flagged as noisy when its rounds spread this much: the IQR above this share of the median, or
# one round this many times the median (a machine busy with something else, e.g. a 400x outlier round).
NOISY_IQR_SHARE = 0.25
NOISY_MAX_RATIO = 10.0
NOISE_NOTE = (f"* noisy: IQR above {NOISY_IQR_SHARE:.0%} of the median or a round over {NOISY_MAX_RATIO:g}x the "
              "median; rerun on a quiet machine before trusting that figure")


def figures(median_s: float, batch: int, bare_median_s: float, rounds: int, iqr_s: float = 0.0,
            max_s: float = 0.0) -> dict[str, float | int | bool]:
    """What the summary and JSON keep of one benchmark."""
    return {
        "batch": batch, "rounds": rounds, "median_ms": round(median_s * 1e3, 4),
        "iqr_ms": round(iqr_s * 1e3, 4), "max_ms": round(max_s * 1e3, 4),
        "noisy": bool(iqr_s > NOISY_IQR_SHARE * median_s or max_s > NOISY_MAX_RATIO * median_s),
        "latency_us_per_image": round(median_s / batch * 1e6, 2),
        "images_per_s": round(batch / median_s, 1),
        "bare_loop_median_ms": round(bare_median_s * 1e3, 4),
        "overhead_pct": round(100 * (median_s / bare_median_s - 1), 2),
    }


def rows(bench: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[tuple[str, ...]]:
    """Per model: batch-1 latency, batch-256 throughput, and both as a ratio to the framework's fp32."""
    out = []
    for case in cases.CASES:
        mine = bench.get(case.id)
        if not mine:
            continue
        base = bench.get(case.baseline_id, {})
        cells = [case.id]
        for batch in BATCHES:
            fig, ref = mine.get(str(batch)), base.get(str(batch))
            if fig is None:
                cells += ["-", "-"]
                continue
            value = (f"{fig['median_ms'] * 1e3:.0f} µs" if batch == LATENCY_BATCH
                     else f"{fig['images_per_s']:,.0f} img/s") + (" *" if fig.get("noisy") else "")
            ratio = f"{fig['images_per_s'] / ref['images_per_s']:.2f}x" if ref else "-"
            cells += [value, ratio]
        ort = bench.get("ort-fp32", {}).get(str(THROUGHPUT_BATCH))
        mine_t = mine.get(str(THROUGHPUT_BATCH))
        cells.append(f"{mine_t['images_per_s'] / ort['images_per_s']:.2f}x" if ort and mine_t else "-")
        out.append(tuple(cells))
    return out


HEADERS = ("Model", f"batch {LATENCY_BATCH} median", "speed vs fp32", f"batch {THROUGHPUT_BATCH} throughput",
           "speed vs fp32", f"batch {THROUGHPUT_BATCH} vs ort-fp32")
