"""Recipe-level uncertainty (--ptq-recipe-draws K): the builds the run's conclusions rest on (the recommended
build, each backend's best, every build within 0.5 point of a gate) are rebuilt on K more calibration draws; the
recipe must meet the accuracy and drop bars on average, and its spread and combined interval go to the summary,
JSON (`recipe`) and report."""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.analysis import recipe
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained

pytestmark = [pytest.mark.real, pytest.mark.recipe]


@pytest.mark.parametrize("case", cases.QUANTIZED, ids=str)
def test_the_recipe_holds_over_calibration_draws(case: cases.Case, ptq_store, ptq_session, ptq_thresholds) -> None:
    s = ptq_store.settings
    if case not in cases.selected(s.matrix):
        pytest.skip(f"{case.id} is not in the {s.matrix} matrix")
    run = [c for c in cases.selected(s.matrix) if c in cases.BUILDABLE and c.backend.missing() is None]
    # the whole run's host records (built once, shared through the cache): which builds the conclusions rest on
    records = {r.key: r for r in (explained(lambda c=c: ptq_store.result(c)).record for c in run)}
    why = recipe.chosen(records, ptq_thresholds).get(case.id)
    if why is None:
        pytest.skip(f"{case.id}: not recommended, not its backend's best, not within {recipe.MARGIN} point of a gate")
    labels = ptq_store.test.labels
    gated = explained(lambda: ptq_store.result(case))
    fp32 = explained(lambda: ptq_store.result(cases.get(case.baseline_id)))
    hits = np.stack([explained(lambda k=k: ptq_store.result(case, draw=k)).predictions == labels
                     for k in range(1, s.recipe_draws + 1)])
    summary = recipe.summarize(gated.predictions == labels, hits, fp32.predictions == labels, why)
    ptq_session.results.add_recipe(case.id, summary)
    th = ptq_thresholds
    ci = th.gate_margin == "ci"
    top1, what = (summary["interval"][0], "lower end of the 95% interval") if ci else (summary["mean"], "mean")
    assert top1 > th.min_accuracy, (
        f"{gated.record.where}: recipe top-1 {what} over {s.recipe_draws} calibration draws {top1:.2f}% (worst draw "
        f"{summary['worst']:.2f}%) is not above {th.min_accuracy:.2f}% (--ptq-min-accuracy)")
    delta = summary["delta_interval"][0] if ci else summary["delta_mean"]
    assert -delta < th.max_drop, (
        f"{gated.record.where}: recipe Δ vs fp32 {what} {delta:+.2f} points over {s.recipe_draws} calibration draws "
        f"is a drop of {th.max_drop:.2f} or more (--ptq-max-drop)")
