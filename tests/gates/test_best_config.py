"""The full matrix's best passing build per backend, held to the bar on several calibration draws."""
from __future__ import annotations

import pytest

from ptq_helpers.analysis import gates, stats
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained

pytestmark = [pytest.mark.real, pytest.mark.full_matrix]


@pytest.mark.parametrize("framework", list(cases.FRAMEWORKS))  # one item per backend: xdist runs them in parallel
def test_best_configuration_per_backend_holds_across_calibration_draws(framework: str, ptq_store, ptq_session,
                                                                       ptq_thresholds) -> None:
    """The backend's best passing build of the full matrix, rebuilt on K calibration draws (K from --ptq-sweep,
    else 5): the recipe's mean over the draws must stay above the accuracy bar (the worst draw is reported)."""
    th, backend = ptq_thresholds, cases.FRAMEWORKS[framework]
    if backend.missing():
        pytest.skip(backend.missing())
    chosen = [c for c in cases.selected(ptq_store.settings.matrix)
              if c.framework == framework and (c in cases.QUANTIZED or c in cases.FP32)]
    records = {c.id: explained(lambda c=c: ptq_store.result(c)).record for c in chosen}
    best_record = gates.best_by_framework(records, th).get(framework)
    if best_record is None:
        pytest.skip(f"no {backend.label} build passes every gate (the gates above say which and why), so there "
                    f"is no best build to hold across calibration draws")
    best = cases.get(best_record.id)
    draws = ptq_store.settings.sweep_draws or 5
    accuracies = [explained(lambda k=k: ptq_store.result(best, draw=k)).metrics.accuracy for k in range(draws)]
    summary = stats.sweep_summary(accuracies)
    ptq_session.results.add_sweep(best.id, summary)
    assert summary["mean"] > th.min_accuracy, (
        f"{best.id}: mean top-1 over {draws} calibration draws {summary['mean']:.2f}% (worst draw "
        f"{summary['min']:.2f}%) is not above {th.min_accuracy:.2f}% (--ptq-min-accuracy)")
