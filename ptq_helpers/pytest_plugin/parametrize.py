"""Which matrix fixtures are parametrized, with what, at collection (pytest_generate_tests): one parameter per
case (and target) of the run, so cases added to the matrix by a conftest show up too."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Build, Case
from ptq_helpers.targets.registry import TARGETS


def _on(targets: tuple[str, ...], chosen: tuple[Case, ...]) -> list[Build]:
    return [Build(case, target) for case in chosen for target in targets if TARGETS[target].applies(case)]


def _buildable(run: tuple[Case, ...]) -> tuple[Case, ...]:
    return (*cases.BUILDABLE, *(c for c in run if c.unsupported is None))


def _quantized(run: tuple[Case, ...]) -> tuple[Case, ...]:
    return tuple(c for c in _buildable(run) if not c.is_fp32)


# fixture name -> (its parameters for the run's targets and the cases its run steps added; its scope)
PARAMETRIZED: dict[str, tuple[Callable[[tuple[str, ...], tuple[Case, ...]], Sequence[object]], str]] = {
    "model": (lambda targets, run: _on(targets, _buildable(run)), "session"),
    "fp32_model": (lambda targets, run: _on(targets, tuple(c for c in _buildable(run) if c.is_fp32)), "session"),
    "quantized_model": (lambda targets, run: _on(targets, _quantized(run)), "session"),
    "host_model": (lambda targets, run: _on(("host",), _buildable(run)), "session"),
    "host_build": (lambda targets, run: _on(("host",), _buildable(run)), "session"),
    "host_quantized_model": (lambda targets, run: _on(("host",), _quantized(run)), "session"),
    "host_quantized_build": (lambda targets, run: _on(("host",), _quantized(run)), "session"),
    "unsupported_case": (lambda targets, run: cases.UNSUPPORTED, "function"),
    "reference_target": (lambda targets, run: [t for t in targets if TARGETS[t].reference_kernels], "function"),
}
