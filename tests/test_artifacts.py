"""The build-once cache: one build across processes, atomic writes, invalid artifacts rebuilt."""
from __future__ import annotations

import errno
import multiprocessing as mp
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from ptq_helpers.core import fileio
from ptq_helpers.core.artifacts import MANIFEST, cache_key, get_or_build
from ptq_helpers.core.errors import CacheError


def _slow_build(log: Path):
    def build(tmp: Path) -> None:
        with open(log, "a") as fh:
            fh.write("built\n")
        time.sleep(0.3)
        tmp.write_bytes(b"model bytes")
    return build


def _worker(folder: str, log: str, run_id: str) -> None:
    get_or_build(Path(folder), "model.bin", _slow_build(Path(log)), run_id=run_id)


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


def test_second_call_reuses(tmp_path: Path) -> None:
    first = get_or_build(tmp_path, "m.bin", _slow_build(tmp_path / "log"), run_id="r1")
    second = get_or_build(tmp_path, "m.bin", _slow_build(tmp_path / "log"), run_id="r2")
    assert (first.built, second.built) == (True, False)
    assert first.sha256 == second.sha256


def test_rebuild_builds_once_per_run(tmp_path: Path) -> None:
    get_or_build(tmp_path, "m.bin", _slow_build(tmp_path / "log"), run_id="r1")
    again = [get_or_build(tmp_path, "m.bin", _slow_build(tmp_path / "log"), run_id="r2", rebuild=True)
             for _ in range(2)]
    assert [s.built for s in again] == [True, False]


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-manifest", "null-manifest", "list-manifest"])
def test_damaged_artifact_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    get_or_build(tmp_path, "m.bin", _slow_build(tmp_path / "log"), run_id="r1")
    path = tmp_path / "m.bin"
    if damage == "flip":
        path.write_bytes(b"MODEL bytes")
    elif damage == "truncate":
        path.write_bytes(b"model")
    elif damage == "null-manifest":
        (tmp_path / MANIFEST).write_text("null")
    elif damage == "list-manifest":
        (tmp_path / MANIFEST).write_text("[1, 2]")
    else:
        (tmp_path / MANIFEST).unlink()
    stored = get_or_build(tmp_path, "m.bin", _slow_build(tmp_path / "log"), run_id="r2")
    assert stored.built and path.read_bytes() == b"model bytes"


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError, match="builder crashed"):
        get_or_build(tmp_path, "m.bin", broken, run_id="r")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.bin.lock"]


def test_cache_key_covers_every_part() -> None:
    base = {"case": {"id": "x"}, "versions": {"onnxruntime": "1"}}
    assert cache_key(base) == cache_key(dict(reversed(base.items())))
    assert cache_key(base) != cache_key({**base, "versions": {"onnxruntime": "2"}})


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
    stored = get_or_build(tmp_path / "a", "model.bin", _slow_build(tmp_path / "log"), run_id="next")
    assert stored.built and stored.path.read_bytes() == b"model bytes"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".model.bin.lock", "manifest.json", "model.bin"]


@pytest.mark.parametrize("how", ["enospc", "numpy-short-write"])
def test_a_full_disk_is_one_message_naming_the_file_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  how: str) -> None:
    def build(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        if how == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(fileio, "_disk_usage", lambda _: shutil._ntuple_diskusage(10, 10, 0))
        raise OSError("100000 requested and 49120 written")  # numpy's np.save on a full disk: no errno

    with pytest.raises(CacheError, match=r"m\.bin: the disk is full .* point --ptq-cache-dir / \$RESNET8_PTQ_CACHE"):
        get_or_build(tmp_path, "m.bin", build, run_id="r1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.bin.lock"]  # nothing half-written kept


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
