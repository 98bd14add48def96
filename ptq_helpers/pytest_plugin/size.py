"""The steps a run's frameworks declare (`Framework.run_step`, e.g. the LiteRT wing's size search): run once before
collection, each may add a case to the run's matrix and returns what the results JSON says of it."""
from __future__ import annotations

from typing import Any

from ptq_helpers.matrix import cases
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.matrix.thresholds import Thresholds


def run_steps(settings: Settings, th: Thresholds, run: dict[str, Any]) -> dict[str, Any] | None:
    """Every registered framework's run step, with the run's options; the record of the one that ran."""
    from ptq_helpers.store import Store

    record = None
    for framework in tuple(cases.FRAMEWORKS.values()):
        if framework.run_step:
            record = cases.resolve(framework.run_step)(Store(settings), th, run) or record
    return record
