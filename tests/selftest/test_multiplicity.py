"""The numpy Holm and Benjamini-Hochberg adjustments (ptq_helpers.analysis.multiplicity) against statsmodels'
multipletests: a cross-check of the suite's own formulas with the library (importing statsmodels takes ~1.6 s per
process, too slow for the gate run)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.selftest


@pytest.mark.parametrize("seed", range(5))
def test_holm_and_bh_are_statsmodels_multipletests(seed: int) -> None:
    """The numpy adjustments agree with statsmodels' on random p values, ties and p near 1 included."""
    multitest = pytest.importorskip("statsmodels.stats.multitest", reason="the cross-check needs statsmodels")
    from ptq_helpers.analysis import multiplicity

    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.1, 12), rng.uniform(0, 1, 20), [0.02, 0.02, 1.0]]).tolist()
    for ours, method in ((multiplicity.holm_adjusted, "holm"), (multiplicity.bh_adjusted, "fdr_bh")):
        np.testing.assert_allclose(ours(p), multitest.multipletests(p, method=method)[1], rtol=0, atol=1e-12)
