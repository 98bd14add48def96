"""The micro-controller checks fail clearly: a float .tflite (the real litert-fp32 build) names its float
operators, and a file Vela cannot compile gives Vela's own message."""
from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained
from tests.fakes import MCU_BUDGET

needs_mcu = pytest.mark.skipif(
    importlib.util.find_spec("tflite_micro") is None or importlib.util.find_spec("ethosu") is None,
    reason="the micro-controller path needs tflite-micro and ethos-u-vela: pip install -e '.[mcu]'")


@needs_mcu
@pytest.mark.real
def test_a_float_tflite_fails_the_integer_gate_with_its_operator_names(ptq_store) -> None:
    from ptq_helpers.targets import tflm

    fp32 = explained(lambda: ptq_store.artifact(cases.get("litert-fp32")))
    ops = tuple(tflm.non_integer_ops(fp32.path))
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops
    message = gates.full_integer(replace(MCU_BUDGET, id="litert-fp32", non_integer_ops=ops))
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
