"""The declarative matrix and the threshold settings (precedence, validation)."""
from __future__ import annotations

import argparse
import re

import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.core.errors import ConfigError
from ptq_helpers.pytest_plugin.options import THRESHOLD_OPTIONS, Thresholds, size_options, thresholds

OPTIONS = {opt.dest: opt for opt in (*THRESHOLD_OPTIONS, *size_options())}


def resolve(cli: dict, ini: dict) -> Thresholds:
    """Thresholds from parsed command-line values and raw ini strings, keyed by field name."""
    return thresholds(lambda dest: cli.get(dest.removeprefix("ptq_")),
                      lambda key: ini.get(next(o.dest for o in OPTIONS.values() if o.ini == key)))


def test_matrix_ids_are_unique_readable_slugs() -> None:
    ids = [c.id for c in cases.CASES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", i) for i in ids), ids


@pytest.mark.parametrize("case", cases.CASES, ids=str)
def test_every_case_has_a_buildable_fp32_baseline(case: cases.Case) -> None:
    base = cases.get(case.baseline_id)
    # the same framework, or one that quantizes that framework's fp32 file and runs on its runtime (litert-quantizer)
    same_runtime = base.backend.run == case.backend.run and base.backend.size_kind == case.backend.size_kind
    assert base.is_fp32 and (base.framework == case.framework or same_runtime) and base.unsupported is None


def test_matrix_covers_the_seed_models() -> None:
    assert {c.id for c in cases.BUILDABLE} >= {"ort-fp32", "torch-fp32", "ort-int8-qdq", "ort-uint8-qdq",
                                                "torch-int8-fx"}
    assert [c.id for c in cases.UNSUPPORTED] == ["torch-uint8-fx"]


def test_unknown_case_id_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown case id 'nope'; known: ort-fp32"):
        cases.get("nope")


def test_defaults_are_the_project_bar() -> None:
    assert resolve({}, {}) == Thresholds(min_accuracy=85.0, max_drop=5.0, max_class_drop=10.0, fp32_correct=8719,
                                         size_reductions={"onnx": 55.0, "torch": 45.0, "tflite": 55.0, "pte": 55.0})


def test_size_limits_come_from_the_registered_size_kinds() -> None:
    """Each framework's size kind brings its option and default; the command line and ini override them."""
    th = resolve({"min_size_reduction_torch": 50.0}, {"min_size_reduction_onnx": "60"})
    assert (th.min_size_reduction("onnx"), th.min_size_reduction("torch"), th.min_size_reduction("tflite")) == \
        (60.0, 50.0, 55.0)
    assert OPTIONS["min_size_reduction_tflite"].flag == "--ptq-min-size-reduction-tflite"
    assert Thresholds.from_json(th.to_json()) == th


def test_command_line_beats_ini_beats_default() -> None:
    th = resolve({"min_accuracy": OPTIONS["min_accuracy"].parse("99")}, {"min_accuracy": "90", "max_drop": "2.5"})
    assert (th.min_accuracy, th.max_drop, th.max_class_drop) == (99.0, 2.5, 10.0)


@pytest.mark.parametrize(("field", "raw"), [("max_drop", "-1"), ("min_accuracy", "101"), ("max_class_drop", "x")])
def test_bad_command_line_values_are_refused_by_the_parser(field: str, raw: str) -> None:
    """argparse prefixes the message with the flag (see
    tests/selftest/test_plugin.py::test_bad_options_are_usage_errors)."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"^.*(outside 0\.\.100|not a number)"):
        OPTIONS[field].parse(raw)


def test_bad_ini_value_names_the_ini_key() -> None:
    with pytest.raises(ConfigError, match=r"\[tool\.pytest\.ini_options\] ptq_min_accuracy: 150\.0 is outside"):
        resolve({}, {"min_accuracy": "150"})


def test_litert_quantizer_settings_are_checked_when_declared() -> None:
    from ptq_helpers.backends.litert.quantizer import LayerOverride, LiteRTQuantizerQuant

    rules = LiteRTQuantizerQuant(overrides=(LayerOverride("conv2d_1", weight_bits=4, algorithm="GPTQ"),)).rules()
    assert [(r["regex"], r["weight_bits"], r["algorithm"]) for r in rules] == [
        (".*", 8, "min_max_uniform_quantize"), ("conv2d_1", 4, "GPTQ")]
    with pytest.raises(ValueError, match="algorithm 'gptq' is not one of litert-quantizer's"):
        LayerOverride("x", algorithm="gptq")
    with pytest.raises(ValueError, match="activation_bits 4 / weight_bits 8"):
        LiteRTQuantizerQuant(activation_bits=4)
