"""Timing figures from pytest-benchmark, a bare-loop reference, and the speed summary table."""
from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ptq_helpers.results.record import ModelRecord, in_matrix_order

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


def baselines_of(records: Mapping[str, ModelRecord]) -> dict[str, str]:
    """Model id -> its fp32 baseline's id, in the records' order (what `rows` needs, from a results file)."""
    return {r.id: r.baseline_id for r in in_matrix_order(records)}


def reference(bench: Mapping[str, Mapping[str, Mapping[str, Any]]], baselines: Mapping[str, str]) -> str | None:
    """The fp32 build every model's throughput is also compared with: the first fp32 baseline, in the given
    order, that has a batch-256 timing (ort-fp32 for the seed matrix), else None."""
    fp32 = [mid for mid, base in baselines.items() if mid == base]
    return next((mid for mid in fp32 if bench.get(mid, {}).get(str(THROUGHPUT_BATCH))), None)


def rows(bench: Mapping[str, Mapping[str, Mapping[str, Any]]], baselines: Mapping[str, str],
         ref: str | None = None) -> list[tuple[str, ...]]:
    """Per model: batch-1 latency, batch-256 throughput, both as a ratio to the framework's fp32 (`baselines`:
    model id -> baseline id, in display order; timed models it lacks come last, without ratios), and batch-256
    throughput as a ratio to `ref` (default: `reference`)."""
    ref = ref if ref is not None else reference(bench, baselines)
    out = []
    for model_id in dict.fromkeys([*baselines, *bench]):
        mine = bench.get(model_id)
        if not mine:
            continue
        base = bench.get(baselines.get(model_id, ""), {})
        cells = [model_id]
        for batch in BATCHES:
            fig, base_fig = mine.get(str(batch)), base.get(str(batch))
            if fig is None:
                cells += ["-", "-"]
                continue
            value = (f"{fig['median_ms'] * 1e3:.0f} µs" if batch == LATENCY_BATCH
                     else f"{fig['images_per_s']:,.0f} img/s") + (" *" if fig.get("noisy") else "")
            ratio = f"{fig['images_per_s'] / base_fig['images_per_s']:.2f}x" if base_fig else "-"
            cells += [value, ratio]
        against = bench.get(ref or "", {}).get(str(THROUGHPUT_BATCH))
        mine_t = mine.get(str(THROUGHPUT_BATCH))
        cells.append(f"{mine_t['images_per_s'] / against['images_per_s']:.2f}x" if against and mine_t else "-")
        out.append(tuple(cells))
    return out


def headers(ref: str | None) -> tuple[str, ...]:
    """The speed table's headers; the last column compares with `ref` (see `reference`)."""
    return ("Model", f"batch {LATENCY_BATCH} median", "speed vs fp32", f"batch {THROUGHPUT_BATCH} throughput",
            "speed vs fp32", f"batch {THROUGHPUT_BATCH} vs {ref or 'a reference fp32 (none timed)'}")
