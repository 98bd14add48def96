"""The suite's own closed forms against the libraries they stand in for in the gate run (importing statsmodels or
scipy.stats costs 1.5-1.6 s per process): the numpy Holm and Benjamini-Hochberg adjustments against statsmodels'
multipletests, and the Clopper-Pearson lower bound against scipy.stats.binomtest."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.selftest


@pytest.mark.parametrize("seed", range(5))
def test_holm_and_bh_are_statsmodels_multipletests(seed: int) -> None:
    """The numpy adjustments are statsmodels' to the last bit on random p values, ties and p near 1 included, and
    on p rounded to 4 digits as the JSON stores them (there p * m / rank and p / (rank / m) can round apart)."""
    multitest = pytest.importorskip("statsmodels.stats.multitest", reason="the cross-check needs statsmodels")
    from ptq_helpers.analysis import multiplicity

    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.1, 12), rng.uniform(0, 1, 20), [0.02, 0.02, 1.0]])
    for values in (p.tolist(), [float(f"{x:.4g}") for x in p]):
        for ours, method in ((multiplicity.holm_adjusted, "holm"), (multiplicity.bh_adjusted, "fdr_bh")):
            np.testing.assert_array_equal(ours(values), multitest.multipletests(values, method=method)[1])


@pytest.mark.parametrize(("correct", "total"), [(8719, 10_000), (8500, 10_000), (0, 100), (100, 100), (1, 3)])
def test_the_top1_lower_bound_is_binomtests_exact_interval(correct: int, total: int) -> None:
    from scipy.stats import binomtest

    from ptq_helpers.analysis.gates import top1_lower_bound

    want = 100 * binomtest(correct, total).proportion_ci(confidence_level=0.90, method="exact").low
    assert top1_lower_bound(correct, total) == pytest.approx(want, abs=1e-9)
