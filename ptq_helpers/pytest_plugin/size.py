"""The steps a run's frameworks declare (`Framework.run_step`, e.g. the LiteRT wing's size search), which the session
runs when it starts (after configuration, before collection): each may build models, and may add cases to this run
(not to the catalog); it returns what the results JSON says of it."""
from __future__ import annotations

from typing import Any

from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.matrix.thresholds import Thresholds


Step = tuple[dict[str, Any] | None, tuple[Case, ...]]  # what the JSON says of it, the cases it adds


def run_steps(settings: Settings, th: Thresholds, run: dict[str, Any]) -> Step:
    """Every registered framework's run step, with the run's options: the record of the one that ran, and the
    cases the steps add to this run."""
    from ptq_helpers.store import Store

    record, added = None, ()
    for framework in tuple(cases.FRAMEWORKS.values()):
        if framework.run_step:
            found, more = cases.resolve(framework.run_step)(Store(settings), th, run)
            record, added = found or record, (*added, *more)
    return record, added
