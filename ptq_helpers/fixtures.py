"""The suite's fixtures: the run's store, data splits, calibration draw and one fixture per matrix case.

Registered by the plugin; the case fixtures are parametrized at collection (plugin.pytest_generate_tests),
so cases added to the matrix by a conftest show up too.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pytest

from ptq_helpers import cases, evaluate, runtime
from ptq_helpers.cases import Build, Case
from ptq_helpers.cifar import Split
from ptq_helpers.errors import PTQError
from ptq_helpers.session import PTQSession, session_of
from ptq_helpers.settings import Thresholds
from ptq_helpers.store import ModelResult, Store
from ptq_helpers.targets import REFERENCE_KERNELS, TARGETS

T = TypeVar("T")


def explained(fn: Callable[[], T]) -> T:
    """Turn the suite's own errors into one-line failures instead of tracebacks."""
    __tracebackhide__ = True
    try:
        return fn()
    except PTQError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def ptq_session(pytestconfig: pytest.Config) -> PTQSession:
    """The run's settings, thresholds and results (what tests add to the summary, JSON and report)."""
    return session_of(pytestconfig)


@pytest.fixture(scope="session")
def ptq_thresholds(ptq_session: PTQSession) -> Thresholds:
    """The gate limits of this run (pyproject.toml, overridden by the command line)."""
    return ptq_session.thresholds


@pytest.fixture(scope="session")
def ptq_store(ptq_session: PTQSession) -> Store:
    """The run's models and predictions; sets the process thread count once."""
    runtime.set_torch_threads(ptq_session.settings.threads)
    return Store(ptq_session.settings, on_event=ptq_session.results.events.append,
                 on_target_facts=ptq_session.results.add_target_facts)


@pytest.fixture(scope="session")
def test_split(ptq_store: Store) -> Split:
    """The 10,000 CIFAR-10 test images, verified by content hash."""
    return explained(lambda: ptq_store.test)


@pytest.fixture(scope="session")
def train_split(ptq_store: Store) -> Split:
    """The 50,000 CIFAR-10 training images, verified by content hash."""
    return explained(lambda: ptq_store.train)


@pytest.fixture(scope="session")
def calibration_indices(ptq_store: Store) -> np.ndarray:
    """Indices of the calibration images in the TRAINING split (same for every framework)."""
    return explained(lambda: ptq_store.calibration_indices)


@pytest.fixture(scope="session")
def measured(ptq_session: PTQSession, ptq_store: Store) -> Callable[[Build], ModelResult]:
    """Build (or load) a case and score it on a target; its record goes into the run's results. A target
    this machine cannot reach (its emulator is not installed) is a skip that says how to enable it."""
    def measure(build: Build) -> ModelResult:
        __tracebackhide__ = True
        target = TARGETS[build.target]
        missing = build.case.backend.missing() or target.missing_tool(build.case)
        if not missing and build.case.backend.source == "h5":
            missing = ptq_store.settings.assets.h5_unavailable()
        if missing:
            pytest.skip(missing)
        result = explained(lambda: ptq_store.result(build.case, target=target))
        ptq_session.results.add(result.record)
        ptq_session.results.hashes.update(ptq_store.hashes)
        if not ptq_session.results.labels:
            ptq_session.results.labels = "".join(map(str, ptq_store.test.labels.tolist()))
        return result
    return measure


def _measured_fixture(name: str, doc: str):
    """A session fixture returning `measured(param)`; its parameters come from PARAMETRIZED at collection."""
    def fixture(request: pytest.FixtureRequest, measured: Callable[[Build], ModelResult]) -> ModelResult:
        return measured(request.param)
    fixture.__doc__ = doc
    return pytest.fixture(scope="session", name=name)(fixture)


model = _measured_fixture("model", "Every buildable model of the matrix on every target of the run, scored on the "
                                   "full test split.")
fp32_model = _measured_fixture("fp32_model", "Each framework's fp32 baseline, on every target.")
quantized_model = _measured_fixture("quantized_model", "Each quantized model on every target, its record linked to "
                                                       "the fp32 baseline on the same target.")
host_model = _measured_fixture("host_model", "Every buildable model on this machine (what benchmarks time).")
host_quantized_model = _measured_fixture("host_quantized_model", "Each quantized model on this machine (file facts "
                                                                 "such as size do not depend on the target).")


@pytest.fixture
def reference_target(request: pytest.FixtureRequest) -> str:
    """Each target of the run that has a .tflite kernel library (host: LiteRT, mcu: TFLite Micro)."""
    return request.param


@pytest.fixture
def unsupported_case(request: pytest.FixtureRequest) -> Case:
    """Each configuration the backend cannot build (expected to be refused)."""
    return request.param


@pytest.fixture(scope="session")
def runner(host_model: ModelResult, ptq_store: Store) -> evaluate.Runner:
    """The model's runtime (ONNX Runtime session, TorchScript module, ...), loaded once, as `run(images)`."""
    return evaluate.make_runner(host_model.case, host_model.artifact.path, ptq_store.settings.threads)


def _on(targets: tuple[str, ...], chosen: tuple[Case, ...]) -> list[Build]:
    return [Build(case, target) for case in chosen for target in targets if TARGETS[target].applies(case)]


# fixture name -> (its parameters for the run's targets, at collection time; its scope)
PARAMETRIZED: dict[str, tuple[Callable[[tuple[str, ...]], Sequence[object]], str]] = {
    "model": (lambda targets: _on(targets, cases.BUILDABLE), "session"),
    "fp32_model": (lambda targets: _on(targets, cases.FP32), "session"),
    "quantized_model": (lambda targets: _on(targets, cases.QUANTIZED), "session"),
    "host_model": (lambda targets: _on(("host",), cases.BUILDABLE), "session"),
    "host_quantized_model": (lambda targets: _on(("host",), cases.QUANTIZED), "session"),
    "unsupported_case": (lambda targets: cases.UNSUPPORTED, "function"),
    "reference_target": (lambda targets: [t for t in targets if t in REFERENCE_KERNELS], "function"),
}
