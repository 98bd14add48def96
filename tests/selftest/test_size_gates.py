"""TorchScript files do not depend on where the Python packages are installed (so neither does the size gate):
the torch-fp32 build, run in a fresh interpreter from another install path, gives the same bytes."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ptq_helpers.matrix import cases

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[2]


def _build_torch_fp32_from(site: Path, source: Path, dest: Path) -> None:
    """The torch-fp32 build in a fresh interpreter that imports torch & co. from `site` (no site module: only
    that path); it is what the builder's own child process runs."""
    code = ("import sys; "
            f"sys.path[:0] = [{str(site)!r}, {str(ROOT)!r}]; "
            "from ptq_helpers.backends.pytorch.backend import main; "
            f"main(['torch-fp32', {str(source)!r}, '-', {str(dest)!r}])")
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_torchscript_is_the_same_file_whatever_the_install_path(ptq_store, tmp_path: Path) -> None:
    """TorchScript's debug records embed the absolute paths of the Python packages; the suite drops them, so two
    installs at different paths ship identical files (and the size gate does not depend on the venv's path)."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    elsewhere = tmp_path / "another" / "install" / "path" / "site-packages"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.symlink_to(site, target_is_directory=True)
    _build_torch_fp32_from(elsewhere, ptq_store.source, tmp_path / "there.pt")
    here = ptq_store.artifact(cases.get("torch-fp32")).path.read_bytes()  # built by this install
    there = (tmp_path / "there.pt").read_bytes()
    assert len(here) == len(there) and here == there
    with zipfile.ZipFile(tmp_path / "there.pt") as archive:
        assert not [n for n in archive.namelist() if n.endswith(".debug_pkl")]
        assert not any(str(elsewhere.parent).encode() in archive.read(n) for n in archive.namelist())
