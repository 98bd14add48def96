"""Which matrix fixtures are parametrized, with what, at collection (pytest_generate_tests): one parameter per
case (and target) of the run, so cases added to the matrix by a conftest show up too."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Build, Case
from ptq_helpers.targets.registry import TARGETS


def _on(targets: tuple[str, ...], chosen: tuple[Case, ...]) -> list[Build]:
    return [Build(case, target) for case in chosen for target in targets if TARGETS[target].applies(case)]


# fixture name -> (its parameters for the run's targets, at collection time; its scope)
PARAMETRIZED: dict[str, tuple[Callable[[tuple[str, ...]], Sequence[object]], str]] = {
    "model": (lambda targets: _on(targets, cases.BUILDABLE), "session"),
    "fp32_model": (lambda targets: _on(targets, cases.FP32), "session"),
    "quantized_model": (lambda targets: _on(targets, cases.QUANTIZED), "session"),
    "host_model": (lambda targets: _on(("host",), cases.BUILDABLE), "session"),
    "host_build": (lambda targets: _on(("host",), cases.BUILDABLE), "session"),
    "host_quantized_model": (lambda targets: _on(("host",), cases.QUANTIZED), "session"),
    "host_quantized_build": (lambda targets: _on(("host",), cases.QUANTIZED), "session"),
    "unsupported_case": (lambda targets: cases.UNSUPPORTED, "function"),
    "reference_target": (lambda targets: [t for t in targets if TARGETS[t].reference_kernels], "function"),
}
