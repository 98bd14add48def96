"""The micro-controller path (target `mcu`): every int8 .tflite is integer end to end, fits the Ethos-U55
SRAM/flash budgets with no operator falling back to the CPU (Vela's estimate), and TFLM's tensor arena
fits. Accuracy on TFLM's kernels is gated by the ordinary gate tests (`<model>@mcu`)."""
from __future__ import annotations

import importlib.util

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.targets.mcu import NotForTheNpu
from tests.fakes import passes

pytestmark = [
    pytest.mark.real,
    pytest.mark.mcu,
    pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None or importlib.util.find_spec("ethosu") is None,
                       reason="the micro-controller path needs tflite-micro and ethos-u-vela: pip install -e '.[mcu]'"),
]
TFLITE_INT8 = [c for c in cases.QUANTIZED if c.fmt == "tflite"]


@pytest.fixture(scope="session", params=TFLITE_INT8, ids=str)
def budget(request: pytest.FixtureRequest, ptq_store, ptq_session) -> McuBudget:
    missing = request.param.backend.missing()
    if missing:
        pytest.skip(missing)
    def measure() -> McuBudget:
        try:
            return ptq_store.mcu_budget(request.param)
        except NotForTheNpu as exc:  # an int4 build: Vela cannot compile it, the NPU budgets do not apply
            pytest.skip(str(exc))

    found = explained(measure)
    ptq_session.results.add_mcu_budget(found)
    return found


def test_integer_end_to_end(budget: McuBudget) -> None:
    passes(gates.full_integer(budget))


@pytest.mark.parametrize("limit", ["sram", "flash", "npu-fallback", "arena"])
def test_fits_the_micro_controller(budget: McuBudget, limit: str, ptq_thresholds) -> None:
    assert budget.sram_bytes > 0 and budget.flash_bytes > 0 and budget.arena_bytes > 0 and budget.cycles_npu > 0
    passes(gates.mcu_budgets(budget, ptq_thresholds).get(limit))
