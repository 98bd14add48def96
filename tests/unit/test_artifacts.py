"""The build-once cache in one process: reuse, atomic writes, invalid artifacts rebuilt, a full disk explained
(across processes: tests/selftest/test_artifacts.py)."""
from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from ptq_helpers.core import fileio
from ptq_helpers.core.artifacts import MANIFEST, cache_key, get_or_build
from ptq_helpers.core.errors import CacheError
from tests.fakes import slow_build


def test_second_call_reuses(tmp_path: Path) -> None:
    first = get_or_build(tmp_path, "m.bin", slow_build(tmp_path / "log", 0), run_id="r1")
    second = get_or_build(tmp_path, "m.bin", slow_build(tmp_path / "log", 0), run_id="r2")
    assert (first.built, second.built) == (True, False)
    assert first.sha256 == second.sha256


def test_rebuild_builds_once_per_run(tmp_path: Path) -> None:
    get_or_build(tmp_path, "m.bin", slow_build(tmp_path / "log", 0), run_id="r1")
    again = [get_or_build(tmp_path, "m.bin", slow_build(tmp_path / "log", 0), run_id="r2", rebuild=True)
             for _ in range(2)]
    assert [s.built for s in again] == [True, False]


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-manifest", "null-manifest", "list-manifest"])
def test_damaged_artifact_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    get_or_build(tmp_path, "m.bin", slow_build(tmp_path / "log", 0), run_id="r1")
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
    stored = get_or_build(tmp_path, "m.bin", slow_build(tmp_path / "log", 0), run_id="r2")
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


def test_an_atomic_write_never_replaces_a_device_folder_or_link(tmp_path: Path) -> None:
    """/dev/null given as an output path stays the device (a rename over it would replace it for the machine)."""
    import os
    import stat

    from ptq_helpers.core.fileio import atomic_write_bytes

    (tmp_path / "mine.txt").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "mine.txt")
    (tmp_path / "folder").mkdir()
    for dest in (Path("/dev/null"), tmp_path / "link", tmp_path / "folder"):
        with pytest.raises(OSError, match="not a regular file; it is never replaced"):
            atomic_write_bytes(dest, b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and (tmp_path / "mine.txt").read_text() == "mine"
    atomic_write_bytes(tmp_path / "mine.txt", b"new")  # a regular file is replaced in one step
    assert (tmp_path / "mine.txt").read_text() == "new"
