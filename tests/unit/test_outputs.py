"""Output paths are checked without creating anything in the user's folder."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from ptq_helpers.pytest_plugin.outputs import output_file


@pytest.fixture(autouse=True)
def _not_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # workers skip the check (the controller makes it)


def _state(folder: Path) -> tuple[int, list[str]]:
    return os.stat(folder).st_mtime_ns, sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("report", [False, True])
def test_checking_an_output_path_creates_nothing_in_its_folder(tmp_path: Path, report: bool) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's")
    os.utime(folder, ns=(1_000_000_000, 1_000_000_000))
    before = _state(folder)
    assert output_file(report)(str(folder / "out.md")) == folder / "out.md"
    assert _state(folder) == before
    assert (folder / "notes.txt").read_text() == "the user's"


def test_a_read_only_folder_is_refused_without_a_probe_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    with pytest.raises(argparse.ArgumentTypeError, match=f"folder {tmp_path} is not writable"):
        output_file()(str(tmp_path / "out.json"))
    assert list(tmp_path.iterdir()) == []


def test_a_pseudo_file_system_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="pseudo file system"):
        output_file()("/sys/resnet8-ptq-out.json")
