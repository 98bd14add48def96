"""The micro-controller budget messages name the value, the limit and the option, and a missing TFLite Micro is a
skip naming the extra to install."""
from __future__ import annotations

from dataclasses import replace

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.targets.tflm import MCU
from tests.fakes import MCU_BUDGET


def test_budget_messages_name_value_limit_and_option() -> None:
    from ptq_helpers.matrix.thresholds import Thresholds

    failed = gates.mcu_budgets(replace(MCU_BUDGET, cpu_fallback_ops=("SOFTMAX",)),
                               Thresholds(max_sram_kib=40, max_flash_kib=70, max_arena_kib=50))
    assert failed["sram"] == ("litert-int8: ethos-u55-128 SRAM (Vela estimate) 50.6 KiB exceeds 40.0 KiB "
                              "(--ptq-max-sram-kib)")
    assert failed["flash"].endswith("77.4 KiB exceeds 70.0 KiB (--ptq-max-flash-kib)")
    assert "1 operators fall back to the CPU on ethos-u55-128 (SOFTMAX), more than 0" in failed["npu-fallback"]
    assert failed["arena"].endswith("55.2 KiB exceeds 50.0 KiB (--ptq-max-arena-kib)")
    assert gates.mcu_budgets(MCU_BUDGET, Thresholds()) == {}


def test_missing_tflite_micro_is_a_skip_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ptq_helpers.targets import base as targets

    monkeypatch.setattr(targets, "find_spec", lambda name: None)
    assert MCU.missing_tool(cases.get("litert-int8")) == (
        "target mcu needs tflite_micro: pip install -e '.[mcu]'")
