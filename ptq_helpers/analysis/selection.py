"""Choosing a "best" build without grading it on the images it was chosen on.

The test set is split into two fixed halves, stratified by class (500 images of each class per half,
seeded and recorded). Per backend, the best passing quantized build is chosen on one half and its top-1,
drop and paired interval are reported on the other, and the other way round (cross-fitted). A paired
bootstrap over all images gives each candidate's probability of being the most accurate; when the
runner-up cannot be separated from the top (the 95% interval of their paired difference contains 0) the
verdict is "tie" and the build recommended is the smallest file among those tied (the stated secondary rule).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from ptq_helpers.analysis import gates
from ptq_helpers.results.record import ModelRecord
from ptq_helpers.matrix.thresholds import Thresholds

SPLIT_SEED = 20261129
RESAMPLES = 1000


def half_a(labels: np.ndarray, seed: int = SPLIT_SEED) -> np.ndarray:
    """Boolean mask of half A: per class, a seeded half of that class's images."""
    rng = np.random.RandomState(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        mask[rng.choice(idx, len(idx) // 2, replace=False)] = True
    return mask


@functools.lru_cache(maxsize=4)
def _weights(n: int, seed: int) -> np.ndarray:
    """RESAMPLES bootstrap resamples of n images as counts per image (resamples x n), so every statistic of a
    resample is a matrix product. Kept (read-only) for the process: a report and a summary of one run draw the
    same resamples, and drawing them costs ~0.3 s."""
    idx = np.random.default_rng(seed).integers(0, n, size=(RESAMPLES, n))
    flat = (idx + n * np.arange(RESAMPLES)[:, None]).ravel()
    w = np.bincount(flat, minlength=RESAMPLES * n).reshape(RESAMPLES, n).astype(np.float32)
    w.flags.writeable = False
    return w


def _paired_ci(base: np.ndarray, q: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Percentile 95% interval of the paired accuracy difference (points) over the resamples `w`."""
    diff = q.astype(np.float32) - base.astype(np.float32)
    lo, hi = np.quantile(w @ diff / w.shape[1], [0.025, 0.975])
    return round(100 * float(lo), 2), round(100 * float(hi), 2)


def _report(chosen: ModelRecord, on: np.ndarray, base: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    q = chosen.correct_mask()
    acc, base_acc = 100 * q[on].mean(), 100 * base[on].mean()
    return {"model": chosen.key, "top1": round(float(acc), 2), "drop": round(float(base_acc - acc), 2),
            "diff_ci": _paired_ci(base[on], q[on], w)}


def backend(candidates: list[ModelRecord], a: np.ndarray, w_all: np.ndarray, w_half: np.ndarray) -> dict[str, Any]:
    """Selection on each half, reported on the other; win probabilities; tie verdict and recommendation."""
    table = np.stack([r.correct_mask() for r in candidates])  # candidates x images
    base = candidates[0].base.correct_mask()
    pick = lambda mask: candidates[int(np.lexsort(  # noqa: E731 - highest accuracy, then smaller file
        ([r.size_bytes for r in candidates], -table[:, mask].mean(axis=1)))[0])]
    cross = [{"selected_on": "A", "reported_on": "B", **_report(pick(a), ~a, base, w_half)},
             {"selected_on": "B", "reported_on": "A", **_report(pick(~a), a, base, w_half)}]
    winners = np.argmax(table.astype(np.float32) @ w_all.T, axis=0)  # per resample, the most accurate
    order = np.argsort(-table.mean(axis=1), kind="stable")
    top = order[0]
    # k is tied with the top when the 95% interval of (k - top) reaches 0
    tied = [int(top)] + [int(k) for k in order[1:] if _paired_ci(table[top], table[k], w_all)[1] >= 0]
    recommended = min(tied, key=lambda k: (candidates[k].size_bytes, -table[k].mean()))
    return {"cross_fitted": cross,
            "cross_fitted_drop": round(float(np.mean([c["drop"] for c in cross])), 2),
            "win_probability": {candidates[k].key: round(float(np.mean(winners == k)), 3) for k in order[:5]},
            "verdict": "tie" if len(tied) > 1 else "clear",
            "tied": [candidates[k].key for k in tied],
            "recommended": candidates[recommended].key,
            "rule": "highest top-1; when tied (paired 95% interval of the difference contains 0): the smallest file"}


def held_out(records: Mapping[str, ModelRecord], th: Thresholds, labels: str) -> dict[str, Any]:
    """Per backend, held-out selection among the host builds that pass every gate (JSON `selection`)."""
    if not labels:
        return {}
    lab = np.frombuffer(labels.encode(), np.uint8) - ord("0")
    a = half_a(lab)
    out: dict[str, Any] = {"seed": SPLIT_SEED, "split": "500 images of each class per half (half_a: the mask of half "
                           "A, np.packbits as hex)",
                           "half_a": np.packbits(a).tobytes().hex(), "backends": {}}
    by_fw: dict[str, list[ModelRecord]] = {}
    for r in gates.passing(records, th):
        if r.target == "host" and r.hits and r.base is not None and r.base.hits:
            by_fw.setdefault(r.framework, []).append(r)
    if by_fw:
        w_all, w_half = _weights(len(lab), 1), _weights(int(a.sum()), 2)
    for fw, cands in by_fw.items():
        out["backends"][fw] = backend(sorted(cands, key=lambda r: r.key), a, w_all, w_half)
    if len(by_fw) > 1:
        out["across_backends"] = across(by_fw, w_all)
    return out


def across(by_fw: Mapping[str, list[ModelRecord]], w_all: np.ndarray) -> dict[str, Any]:
    """The most accurate passing build of the run against the most accurate of every other backend: the paired
    95% interval of (other - top) over the same bootstrap resamples; a backend whose interval reaches 0 is a
    tie, and among tied builds the smallest file is recommended (the same secondary rule as per backend)."""
    best = {fw: max(c, key=lambda r: (r.accuracy, -r.size_bytes)) for fw, c in by_fw.items()}
    top = max(best.values(), key=lambda r: (r.accuracy, -r.size_bytes))
    top_hits = top.correct_mask()
    vs = {}
    for fw, r in best.items():
        if r is top:
            continue
        lo, hi = _paired_ci(top_hits, r.correct_mask(), w_all)
        vs[r.key] = {"framework": fw, "delta": round(r.accuracy - top.accuracy, 2), "diff_ci": [lo, hi],
                     "separable": hi < 0}
    tied = [top, *(best[v["framework"]] for v in vs.values() if not v["separable"])]
    return {"top": top.key, "vs": vs, "verdict": "tie" if len(tied) > 1 else "clear",
            "tied": [r.key for r in tied], "recommended": min(tied, key=lambda r: (r.size_bytes, -r.accuracy)).key,
            "rule": "highest top-1 across backends; when the best of another backend cannot be separated (paired 95% "
                    "interval of the difference contains 0): the smallest file among the tied"}
