"""Recipe-level uncertainty (--ptq-recipe-draws K): a build's top-1 is one calibration draw of its recipe; K more
draws of the calibration images (draws 1..K of the seed's stream; draw 0, the gated build, is reported beside them
but not counted in the spread) say how much of a difference between builds is the recipe and how much the draw.

The interval combines both sources with a two-level (hierarchical) percentile bootstrap: each of RESAMPLES
replicates resamples the K draws with replacement and the test images with replacement (the same images for every
draw and for the fp32 baseline, so the difference stays paired) and takes the mean over the resampled draws.

Which builds are re-drawn (`chosen`): the build the report recommends (best accuracy), each backend's best, and
every passing or failing quantized build within MARGIN points of the accuracy or drop gate.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ptq_helpers.analysis import gates
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.results.record import ModelRecord

MARGIN = 0.5  # points from a gate
RESAMPLES = 1000
SEED = 20261202
METHOD = (f"two-level percentile bootstrap ({RESAMPLES} replicates): the K calibration draws resampled with "
          "replacement, and the test images resampled with replacement (paired: the same images for every draw "
          "and for fp32); 95% interval of the mean over the resampled draws")


def chosen(records: Mapping[str, ModelRecord], th: Thresholds) -> dict[str, str]:
    """Host quantized builds whose recipe is re-drawn, each with why."""
    why: dict[str, list[str]] = {}
    ok = gates.passing(records, th)
    top = max(ok, key=lambda r: (r.accuracy, -r.size_bytes), default=None)
    if top is not None:
        why.setdefault(top.key, []).append("recommended (best accuracy)")
    for fw, best in gates.best_by_framework(records, th).items():
        why.setdefault(best.key, []).append(f"best of {best.framework_label}")
    for r in records.values():
        if r.target != "host" or not r.compared:
            continue
        if abs(r.accuracy - th.min_accuracy) <= MARGIN:
            why.setdefault(r.key, []).append(f"top-1 within {MARGIN} of --ptq-min-accuracy")
        if abs(r.drop - th.max_drop) <= MARGIN:
            why.setdefault(r.key, []).append(f"drop within {MARGIN} of --ptq-max-drop")
    return {key: "; ".join(reasons) for key, reasons in why.items()}


def summarize(draw0: np.ndarray, draws: np.ndarray, fp32: np.ndarray, reason: str = "") -> dict[str, Any]:
    """`draws` (K x N bool): per draw 1..K, which test images the build gets right; `draw0` and `fp32` (N bool)
    the gated build's and its baseline's. Accuracy and Δ vs fp32 in percent / points (negative: worse)."""
    hits = np.asarray(draws, dtype=np.float32)
    k, n = hits.shape
    if k < 2:
        raise ValueError("the recipe spread needs at least 2 draws besides draw 0")
    acc = 100 * hits.mean(axis=1)
    base = 100 * float(np.mean(fp32))
    rng = np.random.default_rng(SEED)
    # image resamples as counts per image: replicates x images
    idx = rng.integers(0, n, size=(RESAMPLES, n), dtype=np.int64)
    counts = np.bincount((idx + n * np.arange(RESAMPLES)[:, None]).ravel(),
                         minlength=RESAMPLES * n).reshape(RESAMPLES, n).astype(np.float32)
    per_draw = 100 * (hits @ counts.T) / n  # K x replicates: each draw's top-1 on each image resample
    fp32_rep = 100 * (counts @ np.asarray(fp32, dtype=np.float32)) / n
    pick = rng.integers(0, k, size=(RESAMPLES, k))  # the draws of each replicate
    mean_rep = per_draw[pick, np.arange(RESAMPLES)[:, None]].mean(axis=1)
    lo, hi = np.percentile(mean_rep, [2.5, 97.5])
    dlo, dhi = np.percentile(mean_rep - fp32_rep, [2.5, 97.5])
    return {
        "draws": int(k), "accuracies": [round(float(a), 2) for a in acc],
        "mean": round(float(acc.mean()), 3), "sd": round(float(acc.std(ddof=1)), 3),
        "worst": round(float(acc.min()), 2),
        "draw0": round(100 * float(np.mean(draw0)), 2), "fp32": round(base, 2),
        "delta_mean": round(float(acc.mean()) - base, 3),
        "interval": [round(float(lo), 2), round(float(hi), 2)],
        "delta_interval": [round(float(dlo), 2), round(float(dhi), 2)],
        "method": METHOD, "why": reason,
    }


def pick_under_recipe(recipes: Mapping[str, Mapping[str, Any]], passing: list[str]) -> str | None:
    """The passing build with the highest recipe mean (None when none of them was re-drawn)."""
    drawn = [k for k in passing if k in recipes]
    return max(drawn, key=lambda k: recipes[k]["mean"], default=None)
