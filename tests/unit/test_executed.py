"""Executed precision on hand-made records: the summary column, the gate's message and modes, JSON round trip."""
from __future__ import annotations

from dataclasses import replace

from ptq_helpers.analysis import gates
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report import tables
from ptq_helpers.results.executed import Executed, of
from ptq_helpers.results.record import ModelRecord
from tests.fakes import record

FALLBACK = {"integer": ["conv1", "fc"], "float": ["conv2", "conv3"], "how": "asked",
            "causes": ["conv2: shared input", "conv3: shared input"], "kernels": {"conv1": "QLinearConv"}}


def _with(runtime: dict | None) -> ModelRecord:
    return replace(record("ort-int8-qdq", 8612, 125_000), runtime=runtime, cpu="Test CPU: avx2")


def test_summary_counts_integer_and_float_layers() -> None:
    assert Executed.from_json(FALLBACK).summary() == "integer 2/4, 2 float"
    assert Executed(("a", "b")).summary() == "integer 2/2" and Executed((), ("a",)).summary() == "float 1/1"
    assert of({"executed": FALLBACK}) == Executed.from_json(Executed.from_json(FALLBACK).to_json())
    assert of({"layers": "9x Convolution u8"}) is None and of(None) is None


def test_gate_names_the_float_layers_cpu_cause_and_option() -> None:
    message = gates.integer_execution(_with({"executed": FALLBACK}), Thresholds(executed_precision="fail"))
    assert message is not None
    for part in ("ort-int8-qdq (on Test CPU: avx2)", "2 of 4 compute layers run in float", "conv2, conv3",
                 "likely cause: shared input", "--ptq-executed-precision=fail"):
        assert part in message, (part, message)
    assert gates.integer_execution(_with({"executed": {**FALLBACK, "float": []}}), Thresholds()) is None
    assert gates.integer_execution(_with(None), Thresholds()) is None  # not asked: the test skips
    broken = gates.integer_execution(_with({"executed": {"integer": [], "float": []}}), Thresholds())
    assert broken and "no Conv/Gemm/MatMul layer" in broken


def test_fail_mode_counts_it_as_a_failed_gate_and_report_mode_does_not() -> None:
    rec = _with({"executed": FALLBACK})
    assert "executed" not in gates.all_failures(rec, Thresholds())
    assert "executed" in gates.all_failures(rec, Thresholds(executed_precision="fail"))


def test_the_executed_column() -> None:
    assert tables.executed_text(_with({"executed": FALLBACK})) == "integer 2/4, 2 float"
    assert tables.executed_text(_with(None)) == "not asked"
    assert tables.executed_text(replace(record("ort-fp32", 8719, 300_000), runtime=None)) == "-"


def test_an_emulated_build_says_so_in_its_facts_summary_and_gate_message() -> None:
    from ptq_helpers.backends.onnxruntime.backend import OrtQuant
    from ptq_helpers.matrix import cases

    assert OrtQuant("QUInt8", "QInt8").emulated is None
    reason = OrtQuant("QUInt16", "QInt8").emulated
    assert reason.startswith("emulated: no integer kernels on CPU (QUInt16 activations")
    assert "QInt4 weights" in OrtQuant("QUInt8", "QInt4").emulated
    assert cases.get("ort-w4a8-qdq-pc").emulated and cases.get("ort-int8-qdq").emulated is None
    facts = {"integer": [], "float": ["conv1", "fc"], "how": "asked", "causes": [], "kernels": {}, "emulated": reason}
    assert Executed.from_json(facts).summary() == "emulated, float 2/2"
    assert Executed.from_json(Executed.from_json(facts).to_json()).emulated == reason
    message = gates.integer_execution(_with({"executed": facts}), Thresholds())
    assert message.startswith(f"ort-int8-qdq (on Test CPU: avx2): {reason}; 2 of 2 compute layers run in float")
    assert "integer" not in Executed.from_json(facts).summary()
