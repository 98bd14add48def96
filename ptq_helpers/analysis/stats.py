"""Paired statistics of a quantized model against its fp32 baseline on the same test images."""
from __future__ import annotations

from math import comb

import numpy as np

from ptq_helpers.results.record import PairedStats

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
LEVEL = 0.95


def mcnemar_exact(base_correct: np.ndarray, q_correct: np.ndarray) -> tuple[int, int, float]:
    """Discordant counts (b: only fp32 right, c: only quantized right) and McNemar's exact two-sided p."""
    b = int(np.sum(base_correct & ~q_correct))
    c = int(np.sum(~base_correct & q_correct))
    n = b + c
    if n == 0:
        return b, c, 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1))
    return b, c, min(1.0, 2 * tail / 2**n)


def bootstrap_diff_means(base_correct: np.ndarray, q_correct: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                         seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Bootstrap distribution of (quantized - fp32) accuracy in points, resampling images in pairs."""
    diff = q_correct.astype(np.int8) - base_correct.astype(np.int8)
    rng = np.random.default_rng(seed)
    n = len(diff)
    means = np.empty(resamples)
    for start in range(0, resamples, 250):  # chunks keep memory small
        idx = rng.integers(0, n, size=(min(250, resamples - start), n))
        means[start:start + len(idx)] = diff[idx].mean(axis=1)
    return 100 * means


def bootstrap_diff_ci(base_correct: np.ndarray, q_correct: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED, level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of (quantized - fp32) accuracy in points, resampling images in pairs."""
    means = bootstrap_diff_means(base_correct, q_correct, resamples, seed)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def compare(labels: np.ndarray, base_pred: np.ndarray, q_pred: np.ndarray) -> PairedStats:
    """Agreement, McNemar and the bootstrap interval, rounded as the JSON keeps them."""
    base_ok, q_ok = base_pred == labels, q_pred == labels
    b, c, p = mcnemar_exact(base_ok, q_ok)
    means = bootstrap_diff_means(base_ok, q_ok)
    lo, hi = (float(v) for v in np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2]))
    one_sided = float(np.quantile(means, 1 - LEVEL))
    classes = np.unique(labels)
    class_p = tuple(float(f"{mcnemar_exact(base_ok[labels == k], q_ok[labels == k])[2]:.4g}") for k in classes)
    class_low = tuple(round(float(np.quantile(bootstrap_diff_means(base_ok[labels == k], q_ok[labels == k]),
                                              1 - LEVEL)), 4) for k in classes)
    return PairedStats(agreement=round(float(np.mean(base_pred == q_pred)) * 100, 4), only_fp32_correct=b,
                       only_quantized_correct=c, mcnemar_p=float(f"{p:.4g}"), diff_ci_low=round(lo, 4),
                       diff_ci_high=round(hi, 4), bootstrap_resamples=BOOTSTRAP_RESAMPLES,
                       bootstrap_seed=BOOTSTRAP_SEED, diff_one_sided_low=round(one_sided, 4),
                       class_mcnemar_p=class_p, class_diff_one_sided_low=class_low)


def sweep_summary(accuracies: list[float]) -> dict[str, float | int]:
    """Spread of one configuration's accuracy over calibration draws."""
    a = np.asarray(accuracies, dtype=float)
    return {"draws": len(a), "mean": round(float(a.mean()), 4),
            "std": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4),
            "min": round(float(a.min()), 4), "max": round(float(a.max()), 4), "accuracies": [round(x, 4) for x in a]}
