"""The paired statistics on small, hand-checkable data."""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.analysis import stats


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    base = np.array([True] * 10 + [False] * 2 + [True] * 88)
    q = np.array([False] * 10 + [True] * 2 + [True] * 88)
    b, c, p = stats.mcnemar_exact(base, q)
    # two-sided exact binomial test of 2 successes in 12 trials at 1/2: 2 * (1 + 12 + 66) / 4096
    assert (b, c) == (10, 2) and p == pytest.approx(2 * 79 / 4096)


def test_mcnemar_without_disagreement_is_one() -> None:
    same = np.array([True, False, True])
    assert stats.mcnemar_exact(same, same) == (0, 0, 1.0)


def test_bootstrap_interval_brackets_the_difference_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    base = rng.random(10_000) < 0.87
    q = base.copy()
    q[np.flatnonzero(base)[:100]] = False  # exactly 1.00 point worse
    lo, hi = stats.bootstrap_diff_ci(base, q)
    assert lo < -1.0 < hi < 0 and hi - lo < 0.5
    assert (lo, hi) == stats.bootstrap_diff_ci(base, q)


def test_compare_reports_agreement_and_counts() -> None:
    labels = np.array([0, 1, 2, 3])
    out = stats.compare(labels, np.array([0, 1, 2, 0]), np.array([0, 1, 0, 3]))
    assert out.agreement == 50.0 and (out.only_fp32_correct, out.only_quantized_correct) == (1, 1)


def test_sweep_summary() -> None:
    s = stats.sweep_summary([86.0, 86.5, 87.0])
    assert (s["mean"], s["min"], s["max"], s["draws"]) == (86.5, 86.0, 87.0, 3) and s["std"] == pytest.approx(0.5)
