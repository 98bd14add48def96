"""The micro-controller checks fail clearly: a float .tflite names its float operators, a file Vela cannot
compile gives Vela's own message, and missing tools skip with the extra to install."""
from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.targets.base import MCU

needs_mcu = pytest.mark.skipif(
    importlib.util.find_spec("tflite_micro") is None or importlib.util.find_spec("ethosu") is None,
    reason="the micro-controller path needs tflite-micro and ethos-u-vela: pip install -e '.[mcu]'")
BUDGET = McuBudget("litert-int8", "ethos-u55-128", 0.404, 185_790, 202_043, 51_840, 79_296, 51, (), 56_528, ())


@needs_mcu
@pytest.mark.real
def test_a_float_tflite_fails_the_integer_gate_with_its_operator_names(ptq_store) -> None:
    from ptq_helpers.targets import tflm

    fp32 = explained(lambda: ptq_store.artifact(cases.get("litert-fp32")))
    ops = tuple(tflm.non_integer_ops(fp32.path))
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops
    message = gates.full_integer(replace(BUDGET, id="litert-fp32", non_integer_ops=ops))
    assert message.startswith("litert-fp32: not a full-integer model: float tensors in CONV_2D")


@needs_mcu
def test_vela_failure_is_vela_message_not_a_traceback(tmp_path: Path) -> None:
    from ptq_helpers.targets.vela import VelaError, compile_for_npu

    bogus = tmp_path / "broken.tflite"
    bogus.write_bytes(b"TFL3" + b"\0" * 64)
    with pytest.raises(VelaError) as info:
        compile_for_npu(bogus, tmp_path / "out")
    text = str(info.value)
    assert text.startswith(f"vela failed on {bogus}") and "reproduce: " in text
    assert 'File "' not in text  # no traceback frames


def test_budget_messages_name_value_limit_and_option() -> None:
    from ptq_helpers.matrix.thresholds import Thresholds

    failed = gates.mcu_budgets(replace(BUDGET, cpu_fallback_ops=("SOFTMAX",)),
                               Thresholds(max_sram_kib=40, max_flash_kib=70, max_arena_kib=50))
    assert failed["sram"] == "litert-int8: ethos-u55-128 SRAM (Vela estimate) 50.6 KiB exceeds 40.0 KiB (--ptq-max-sram-kib)"
    assert failed["flash"].endswith("77.4 KiB exceeds 70.0 KiB (--ptq-max-flash-kib)")
    assert "1 operators fall back to the CPU on ethos-u55-128 (SOFTMAX), more than 0" in failed["npu-fallback"]
    assert failed["arena"].endswith("55.2 KiB exceeds 50.0 KiB (--ptq-max-arena-kib)")
    assert gates.mcu_budgets(BUDGET, Thresholds()) == {}


def test_missing_tflite_micro_is_a_skip_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ptq_helpers.targets import base as targets

    monkeypatch.setattr(targets, "find_spec", lambda name: None)
    assert MCU.missing_tool(cases.get("litert-int8")) == (
        "target mcu needs tflite_micro: pip install -e '.[mcu]'")
