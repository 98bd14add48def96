"""Calibration-draw sweep: every quantized configuration meets the bar for K independent draws."""
from __future__ import annotations

import pytest

from ptq_helpers import cases, stats
from ptq_helpers.fixtures import explained

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.mark.parametrize("case", cases.QUANTIZED, ids=str)
def test_every_calibration_draw_meets_the_accuracy_bar(case: cases.Case, ptq_store, ptq_session,
                                                       ptq_thresholds) -> None:
    draws = ptq_store.settings.sweep_draws
    accuracies = [explained(lambda k=k: ptq_store.result(case, draw=k)).metrics.accuracy for k in range(draws)]
    summary = stats.sweep_summary(accuracies)
    ptq_session.results.add_sweep(case.id, summary)
    limit = ptq_thresholds.min_accuracy
    failing = [f"draw {k}: {a:.2f}%" for k, a in enumerate(accuracies) if a <= limit]
    assert not failing, f"{case.id}: top-1 not above {limit:.2f}% for {', '.join(failing)} (--ptq-min-accuracy)"

