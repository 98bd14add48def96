"""The self-tests: the suite testing itself end to end (pytester runs of the plugin, child interpreters and
processes, socket servers standing in for remote hosts, the suite's own machinery checked on the real model).

Every test in this folder carries the `selftest` marker, and runs only when asked for: when the -m expression
names `selftest` (`pytest -n auto -m selftest`, or e.g. `-m "selftest and not real"`), or when the command line
names a path in this folder (`pytest tests/selftest/test_plugin.py`). Every other run deselects them: the gate
(`pytest -n auto`), and any -m that does not name them (`-m "not real"` is the unit tests only).

Also the `suite` fixture: a pytester folder set up as this project (its conftest.py and pyproject.toml)."""
from __future__ import annotations

import contextlib
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@pytest.hookimpl(tryfirst=True)  # before -m is evaluated (by _pytest.mark's own hook)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if _inside(item.path.resolve(), HERE)]
    for item in mine:
        item.add_marker(pytest.mark.selftest)
    if re.search(r"\bselftest\b", config.getoption("markexpr") or ""):
        return  # -m names them: the expression decides
    named = [path for path in (Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args)
             if _inside(path, HERE)]
    unasked = [item for item in mine if not any(_inside(item.path.resolve(), path) for path in named)]
    if unasked:
        config.hook.pytest_deselected(items=unasked)
        drop = {id(item) for item in unasked}
        items[:] = [item for item in items if id(item) not in drop]


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
