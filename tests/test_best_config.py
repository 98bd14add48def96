"""The full matrix's best passing build per backend, held to the bar on several calibration draws."""
from __future__ import annotations

import pytest

from ptq_helpers import cases, gates, stats
from ptq_helpers.fixtures import explained

pytestmark = [pytest.mark.real, pytest.mark.full_matrix]


@pytest.mark.parametrize("framework", list(cases.FRAMEWORKS))  # one item per backend: xdist runs them in parallel
def test_best_configuration_per_backend_holds_across_calibration_draws(framework: str, ptq_store, ptq_session,
                                                                       ptq_thresholds) -> None:
    """The backend's best passing build of the full matrix, rebuilt on K calibration draws (K from --ptq-sweep,
    else 5): every draw must stay above the accuracy bar."""
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
    ptq_session.results.add_sweep(best.id, stats.sweep_summary(accuracies))
    failing = [f"{best.id} draw {k}: {a:.2f}%" for k, a in enumerate(accuracies) if a <= th.min_accuracy]
    assert not failing, f"top-1 not above {th.min_accuracy:.2f}% (--ptq-min-accuracy) for " + ", ".join(failing)
