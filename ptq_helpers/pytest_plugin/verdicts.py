"""What the run concludes after its tests (a regression against --ptq-baseline, an output not written, workers on
different CPUs), as failed test items: pytest's summary line, -ra, JUnit XML and CI annotations see each one."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ptq_helpers import compare

NODE = "resnet8-ptq"  # the items' "file": JUnit XML classname resnet8-ptq, name e.g. baseline[torch-int8-fx]


@dataclass(frozen=True)
class _Crash:
    message: str
    path: str = NODE
    lineno: int = 0


class _Failure:
    """A failure's long representation: the message (pytest's -ra line, JUnit's failure message and text)."""

    def __init__(self, message: str) -> None:
        self.reprcrash = _Crash(message)
        self.message = message

    def toterminal(self, tw: Any) -> None:
        tw.line(self.message, red=True)

    def __str__(self) -> str:
        return self.message


def fail_item(config: pytest.Config | None, name: str, message: str) -> None:
    """Report one failed item `resnet8-ptq::<name>` to every plugin that listens (terminal, junitxml, ...)."""
    if config is None:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and hasattr(reporter, "_show_progress_info"):
        reporter._show_progress_info = False  # the run's progress is complete: no '[110%]' after these items
    report = pytest.TestReport(nodeid=f"{NODE}::{name}", location=(NODE, None, name), keywords={name: 1},
                               outcome="failed", longrepr=_Failure(message), when="call", sections=[], duration=0.0)
    config.hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
    config.hook.pytest_runtest_logreport(report=report)
    config.hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)


def baseline_lines(path: Any, found: compare.Comparison) -> list[str]:
    """The end of the terminal summary for --ptq-baseline: what changed, the verdicts, where the flips are."""
    n = len(found.regressions)
    out = [f"against --ptq-baseline {path}: " + (f"{n} regression(s)" if n else "no regression")
           + (f"; changed besides the models: {'; '.join(c.text() for c in found.changed)}" if found.changed else "")]
    out += [v.line() for v in found.verdicts]
    flipped = [r.key for r in found.rows if r.flips is not None and not r.flips.identical]
    if flipped:
        out.append(f"answers changed on some images for {', '.join(flipped)}: the flipped images are listed by "
                   f"python -m ptq_helpers.compare {path} <this run's --ptq-json>")
    return out
