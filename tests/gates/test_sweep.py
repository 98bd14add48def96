"""Calibration-draw sweep: every quantized configuration meets the bar on average over K independent draws.

The gate judges the recipe (the mean over draws), not its unluckiest draw: "any draw below the bar" fails a
healthy recipe more often the more draws are taken. The worst draw is still reported."""
from __future__ import annotations

import pytest

from ptq_helpers.analysis import stats
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.mark.parametrize("case", cases.QUANTIZED, ids=str)
def test_the_recipe_meets_the_accuracy_bar_over_calibration_draws(case: cases.Case, ptq_store, ptq_session,
                                                       ptq_thresholds) -> None:
    draws = ptq_store.settings.sweep_draws
    accuracies = [explained(lambda k=k: ptq_store.result(case, draw=k)).metrics.accuracy for k in range(draws)]
    summary = stats.sweep_summary(accuracies)
    ptq_session.results.add_sweep(case.id, summary)
    limit = ptq_thresholds.min_accuracy
    assert summary["mean"] > limit, (f"{case.id}: mean top-1 over {draws} calibration draws {summary['mean']:.2f}% "
                                     f"(worst draw {summary['min']:.2f}%) is not above {limit:.2f}% "
                                     "(--ptq-min-accuracy)")

