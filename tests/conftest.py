"""Fixtures of the suite's own plugin tests."""
from __future__ import annotations

import contextlib
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# pytester's in-process runs drop the modules first imported inside them, and numpy's C extensions cannot be
# imported twice in one process: import what the plugin's outputs pull in before any in-process run.
PREIMPORT = ("numpy.fft", "scipy.stats", "matplotlib.pyplot")


@pytest.fixture(scope="session")
def _preimported() -> None:
    """Session-scoped, so it runs before pytester takes its snapshot of sys.modules."""
    for name in PREIMPORT:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


@pytest.fixture
def suite(_preimported: None, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makepyprojecttoml((ROOT / "pyproject.toml").read_text().replace('testpaths = ["tests"]', ""))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("RESNET8_PTQ_ASSETS", str(pytester.path))
    monkeypatch.setenv("RESNET8_PTQ_CACHE", str(pytester.path / "cache"))
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):  # the inner run is no xdist worker
        monkeypatch.delenv(name, raising=False)
    return pytester
