"""Live progress lines for builds and evaluations that take more than a few seconds, also under xdist.

pytest captures a test's output, and xdist workers have no terminal: a worker appends its lines to a
file of the run (in the cache), which the controller tails and prints; a run without xdist prints
directly, with capture suspended for the line.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_sink: list[Callable[[str], None]] = []


def say(message: str) -> None:
    """Show one progress line (no-op outside a configured run, e.g. in child processes)."""
    for sink in _sink:
        sink(f"[resnet8-ptq] {message}")


class Progress:
    """Where this process's progress lines go, chosen once per run."""

    def __init__(self, config: Any, folder: Path, run_id: str) -> None:
        self.config, self.path = config, folder / f"{run_id}.log"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _terminal(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(f"{line} ({self.config.workerinput['workerid']})\n")

    def _tail(self) -> None:
        offset = 0
        while True:
            stopping = self._stop.is_set()
            try:
                with open(self.path) as fh:
                    fh.seek(offset)
                    lines = fh.readlines()
                    offset = fh.tell()
            except OSError:
                lines = []
            for line in lines:  # xdist leaves its progress dots without a newline
                self._terminal("\n" + line.rstrip("\n"))
            if stopping:
                return
            self._stop.wait(0.5)  # woken at once by stop()

    def start(self, xdist_controller: bool) -> None:
        if hasattr(self.config, "workerinput"):
            _sink[:] = [self._append]
        elif xdist_controller:
            self._thread = threading.Thread(target=self._tail, name="resnet8-ptq-progress", daemon=True)
            self._thread.start()
        else:
            _sink[:] = [self._terminal]

    def stop(self) -> None:
        """Print what is left (controller) and stop; safe to call twice."""
        _sink.clear()
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
            self.path.unlink(missing_ok=True)
