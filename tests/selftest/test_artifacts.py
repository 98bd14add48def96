"""The build-once cache across processes: concurrent builders build once, a builder killed mid-write leaves
nothing that passes for the artifact, and a lock held by another process is named, then given up on."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from ptq_helpers.core import fileio
from ptq_helpers.core.artifacts import get_or_build
from ptq_helpers.core.errors import CacheError
from tests.fakes import slow_build


def _worker(folder: str, log: str, run_id: str) -> None:
    get_or_build(Path(folder), "model.bin", slow_build(Path(log)), run_id=run_id)


def test_concurrent_processes_build_exactly_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    procs = [mp.get_context("spawn").Process(target=_worker, args=(str(tmp_path / "a"), str(log), "r"))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert log.read_text() == "built\n"
    assert (tmp_path / "a" / "model.bin").read_bytes() == b"model bytes"


def _killed_mid_write(folder: str, ready: str) -> None:
    def build(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"half a model")
            fh.flush()
            Path(ready).touch()
            time.sleep(60)  # killed here

    get_or_build(Path(folder), "model.bin", build, run_id="killed")


def test_builder_killed_mid_write_is_detected_and_rebuilt(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_killed_mid_write, args=(str(tmp_path / "a"), str(tmp_path / "ready")))
    proc.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    assert not (tmp_path / "a" / "model.bin").exists()  # the half-written file never took the final name
    stored = get_or_build(tmp_path / "a", "model.bin", slow_build(tmp_path / "log"), run_id="next")
    assert stored.built and stored.path.read_bytes() == b"model bytes"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".model.bin.lock", "manifest.json", "model.bin"]


def test_a_lock_held_elsewhere_says_who_holds_it_and_then_gives_up(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileio, "LOCK_WAIT_NOTICE_S", 0.2)
    monkeypatch.setattr(fileio, "LOCK_WAIT_REPEAT_S", 0.3)
    said: list[str] = []
    monkeypatch.setattr(fileio, "say", said.append)
    ready, release = mp.Event(), mp.Event()
    holder = mp.Process(target=_hold_lock, args=(tmp_path / "m.bin", ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(CacheError, match=rf"m\.bin: still locked by pid {holder.pid} on .* after 1 s"):
            with fileio.lock(tmp_path / "m.bin", timeout=1.0):
                pass
    finally:
        release.set()
        holder.join(10)
    assert said and all(f"locked by pid {holder.pid} on " in line and "gives up after 1 s" in line for line in said)
    with fileio.lock(tmp_path / "m.bin", timeout=5):  # released with its holder
        pass


def _hold_lock(target: Path, ready, release) -> None:  # noqa: ANN001
    with fileio.lock(target):
        ready.set()
        release.wait(30)
