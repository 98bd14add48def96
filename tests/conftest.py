"""Fixtures of the suite's own plugin tests."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makepyprojecttoml((ROOT / "pyproject.toml").read_text().replace('testpaths = ["tests"]', ""))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("RESNET8_PTQ_ASSETS", str(pytester.path))
    monkeypatch.setenv("RESNET8_PTQ_CACHE", str(pytester.path / "cache"))
    return pytester
