"""The tests' layout by audience (gates/, unit/, selftest/): a run that does not ask for the self-tests does not
even import them (they pull in torch, onnx and pytester machinery), so the gate's collection stays cheap. They are
asked for by an -m expression that names `selftest` or by a path inside tests/selftest/ (tests/selftest/conftest.py
marks and deselects them the same way)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SELFTEST = Path(__file__).resolve().parent / "selftest"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.resolve() != SELFTEST or re.search(r"\bselftest\b", config.getoption("markexpr") or ""):
        return None
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == SELFTEST or SELFTEST in path.parents:
            return None
    return True
