"""The pure part of `--ptq-search=size`: order layers by sensitivity per byte saved, and choose the smallest
candidate that holds every accuracy gate on half A of the test set, then confirm it on half B.

Sensitivity is measured on training-split validation images (so no test image steers the order); the choice uses
half A of the test split (`selection.half_a`, the same fixed halves as the held-out selection) and the
confirmation half B, which the choice never saw. Accuracy gates as the suite's (top-1 above --ptq-min-accuracy,
drop vs the fp32 below --ptq-max-drop, no class losing --ptq-max-class-drop or more), each on its half.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ptq_helpers.matrix.thresholds import Thresholds


@dataclass(frozen=True)
class Sensitivity:
    """One layer alone at 4-bit weights: its best algorithm's validation top-1 and the bytes it saves."""

    layer: str
    algorithm: str
    accuracy: float  # percent, training-split validation images
    saved_bytes: int


def order(base_accuracy: float, rows: Sequence[Sensitivity]) -> list[Sensitivity]:
    """Greedy order: least validation top-1 lost per KiB saved first (a gain counts as no loss; ties: the larger
    saving first, then the name)."""
    def cost(r: Sensitivity) -> tuple[float, int, str]:
        return max(0.0, base_accuracy - r.accuracy) / max(r.saved_bytes / 1024, 1e-9), -r.saved_bytes, r.layer
    return sorted(rows, key=cost)


def gate_failures(hits: np.ndarray, fp32_hits: np.ndarray, labels: np.ndarray, th: Thresholds) -> list[str]:
    """The accuracy gates a build fails on these images (hits: boolean correct per image)."""
    top1, base = 100 * float(hits.mean()), 100 * float(fp32_hits.mean())
    failed = []
    if not top1 > th.min_accuracy:
        failed.append(f"top-1 {top1:.2f}% not above {th.min_accuracy:g}% (--ptq-min-accuracy)")
    if not base - top1 < th.max_drop:
        failed.append(f"drop {base - top1:.2f} not below {th.max_drop:g} (--ptq-max-drop)")
    for c in np.unique(labels):
        m = labels == c
        drop = 100 * float(fp32_hits[m].mean() - hits[m].mean())
        if not drop < th.max_class_drop:
            failed.append(f"class {int(c)} drop {drop:.2f} not below {th.max_class_drop:g} (--ptq-max-class-drop)")
    return failed


def choose(candidates: Sequence[Mapping[str, Any]], fp32_hits: np.ndarray, labels: np.ndarray, half_a: np.ndarray,
           th: Thresholds) -> dict[str, Any]:
    """The smallest candidate (`bytes`, `hits`, `name`, ...) that holds every accuracy gate on half A, and its
    confirmation on half B. Candidates that fail on A are listed with why; `chosen` is None when none holds."""
    rows, chosen = [], None
    for cand in sorted(candidates, key=lambda c: (c["bytes"], c["name"])):
        hits = np.asarray(cand["hits"], dtype=bool)
        fails_a = list(cand.get("rejected", [])) or gate_failures(hits[half_a], fp32_hits[half_a], labels[half_a], th)
        row = {k: v for k, v in cand.items() if k != "hits"}
        row.update(top1_a=round(100 * float(hits[half_a].mean()), 2), fails_a=fails_a)
        rows.append(row)
        if chosen is None and not fails_a:
            fails_b = gate_failures(hits[~half_a], fp32_hits[~half_a], labels[~half_a], th)
            chosen = {**row, "top1_b": round(100 * float(hits[~half_a].mean()), 2), "fails_b": fails_b,
                      "confirmed": not fails_b}
    return {"candidates": rows, "chosen": chosen}
