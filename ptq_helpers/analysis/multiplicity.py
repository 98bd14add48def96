"""Multiple comparisons across one run: Holm for "does this build differ from its fp32" (one test per
quantized model and target), Benjamini–Hochberg for the per-class cells. Both are the textbook formulas in
numpy (Holm's step-down, BH's step-up), checked against statsmodels' `multipletests` by tests/unit/test_summary.py:
importing statsmodels (and scipy.stats under it) costs ~1.6 s, a sixth of the warm gate's budget.

The primary test of "differs from fp32" is McNemar's exact test on the discordant images: it is the
paired test of two classifiers on the same images and needs no resampling; the paired percentile
bootstrap interval is reported beside it as the size of the difference, and where the two disagree at
5% (it happens with few discordant images, where the percentile interval is a little too narrow) the
McNemar result is the one the run's conclusions use.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ptq_helpers.results.record import ModelRecord

ALPHA = 0.05
PRIMARY = "McNemar's exact test (two-sided) on the images only one of the two models gets right"


def adjust(records: Mapping[str, ModelRecord]) -> dict[str, Any]:
    """Holm-adjusted p per model (family: every quantized-vs-fp32 comparison of the run), BH-adjusted p per
    model and class (family: every model x class cell), and the models where McNemar and the interval
    disagree at 5%."""
    compared = [r for r in records.values() if r.stats is not None]
    out: dict[str, Any] = {"primary_test": PRIMARY, "alpha": ALPHA, "holm": {}, "bh_per_class": {},
                           "family": f"{len(compared)} quantized-vs-fp32 comparisons (every model and target)"}
    if not compared:
        return out
    holm = holm_adjusted([r.stats.mcnemar_p for r in compared])
    out["holm"] = {r.key: float(f"{p:.4g}") for r, p in zip(compared, holm)}
    cells = [(r.key, k, p) for r in compared for k, p in enumerate(r.stats.class_mcnemar_p)]
    if cells:
        bh = bh_adjusted([p for _, _, p in cells])
        for (key, _, _), p in zip(cells, bh):
            out["bh_per_class"].setdefault(key, []).append(float(f"{p:.4g}"))
    out["per_class_family"] = f"{len(cells)} model x class cells"
    out["raw_significant"] = int(sum(r.stats.mcnemar_p < ALPHA for r in compared))
    out["holm_significant"] = int(sum(p < ALPHA for p in holm))
    out["disagree"] = [r.key for r in compared
                       if (r.stats.mcnemar_p < ALPHA) != (r.stats.diff_ci_low > 0 or r.stats.diff_ci_high < 0)]
    return out


def holm_adjusted(p: list[float]) -> np.ndarray:
    """Holm's step-down adjusted p values (as statsmodels' multipletests(method="holm")[1])."""
    ps = np.asarray(p, dtype=float)
    order = np.argsort(ps)
    m = len(ps)
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * ps[order]))
    out = np.empty(m)
    out[order] = stepped
    return out


def bh_adjusted(p: list[float]) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p values (as multipletests(method="fdr_bh")[1])."""
    ps = np.asarray(p, dtype=float)
    order = np.argsort(ps)[::-1]
    m = len(ps)
    ranks = m - np.arange(m)  # the rank of each p in `order` (largest first)
    # p / (rank / m), statsmodels' order of operations: the JSON rounds to 4 digits, and p * m / rank can land
    # on the other side of a rounding tie (0.019125 vs 0.019125000000000003)
    stepped = np.minimum(1.0, np.minimum.accumulate(ps[order] / (ranks / m)))
    out = np.empty(m)
    out[order] = stepped
    return out
