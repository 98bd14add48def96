"""The gates' messages and the end-of-run table, from hand-made records (no models needed)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.report import payload as results, tables
from ptq_helpers.results.record import ModelRecord, PairedStats
from ptq_helpers.matrix.thresholds import Thresholds
from tests import fakes


@pytest.fixture
def records() -> dict:
    recs = {k: v for k, v in fakes.seed_records().items() if k in ("ort-fp32", "ort-int8-qdq")}
    recs = fakes.changed(recs, "ort-fp32", per_class=(87.0,) * 10)
    return fakes.changed(recs, "ort-int8-qdq", correct=8600, accuracy=86.0, size_bytes=125_000, per_class=(86.0,) * 10)


def test_passing_records_give_no_messages(records: dict) -> None:
    assert gates.all_failures(records["ort-int8-qdq"], Thresholds()) == {}
    assert gates.all_failures(records["ort-fp32"], Thresholds()) == {}


def test_messages_state_model_measured_value_and_limit(records: dict) -> None:
    q = records["ort-int8-qdq"]
    strict = Thresholds(min_accuracy=99, max_drop=1, max_class_drop=0.5).with_size(onnx=70)
    assert gates.accuracy(q, strict) == ("ort-int8-qdq: top-1 86.00% (8600/10000 correct) is not above 99.00% "
                                         "(--ptq-min-accuracy, --ptq-gate-margin=point)")
    assert gates.drop(q, strict) == ("ort-int8-qdq: top-1 drop 1.19 points vs ort-fp32 (86.00% vs 87.19%) "
                                     "is not below 1.00 (--ptq-max-drop, --ptq-gate-margin=point)")
    assert gates.size_reduction(q, strict).startswith("ort-int8-qdq: size reduction 61.1% (125,000 vs "
                                                      "321,574 bytes of ort-fp32) is below 70.0%")
    assert "class 'airplane' drops 1.0 points" in gates.class_drop(q, strict)


def test_worst_class_is_the_one_reported(records: dict) -> None:
    per_class = list(records["ort-int8-qdq"].per_class)
    per_class[5] = 70.0  # dog
    q = fakes.changed(records, "ort-int8-qdq", per_class=tuple(per_class))["ort-int8-qdq"]
    msg = gates.class_drop(q, Thresholds())
    assert msg is not None and "class 'dog' drops 17.0 points" in msg and "more than 10.0" in msg


def test_fp32_pin_is_exact(records: dict) -> None:
    assert gates.fp32_pinned(records["ort-fp32"], Thresholds(fp32_correct=8719)) is None
    assert "8719/10000 correct, pinned fp32 baseline is 8720/10000" in gates.fp32_pinned(
        records["ort-fp32"], Thresholds(fp32_correct=8720))


def test_table_rows_follow_the_matrix_with_unsupported_row(records: dict) -> None:
    lines = tables.table(records, Thresholds(), results.unsupported())
    assert lines[0].split()[:3] == ["Model", "Framework", "Data"]
    body = [line.split("  ")[0].strip() for line in lines[2:]]
    assert body == ["ort-fp32", "ort-int8-qdq", "torch-uint8-fx"]
    assert "-1.19" in lines[3] and "61.1%" in lines[3] and lines[3].endswith("pass")
    assert "not supported" in lines[4] and len(lines[4]) < 120  # the reason is a NOTE line (unsupported_notes)
    assert tables.unsupported_notes(results.unsupported()) == [
        "NOTE: torch-uint8-fx is not supported: fbgemm requires qint8 weights"]


def test_table_marks_failures(records: dict) -> None:
    assert tables.table(records, Thresholds(min_accuracy=87))[3].endswith("FAIL: accuracy")


def test_json_payload_has_everything(records: dict) -> None:
    data = results.payload(fakes.run_results(records), Thresholds(), {"calibration": {"seed": 42}})
    assert [m["id"] for m in data["models"]] == ["ort-fp32", "ort-int8-qdq"]
    assert data["unsupported"][0]["reason"] == "fbgemm requires qint8 weights"
    assert data["gates"] == {"ort-fp32": {}, "ort-int8-qdq": {}}
    assert data["classes"][5] == "dog" and data["meta"]["calibration"]["seed"] == 42


def _borderline(records: dict) -> ModelRecord:
    """85.20% (8520/10000): above an 85% bar as a point, not by its one-sided 95% Clopper-Pearson bound
    (84.60%); drop 1.99 points, bound 2.6; worst class 'dog' drops 5 points, bound 6.5."""
    stats = PairedStats(95.0, 250, 51, 1e-20, -2.4, -1.6, 2000, 0, diff_one_sided_low=-2.6,
                        class_mcnemar_p=(0.5,) * 10, class_diff_one_sided_low=(-1.0,) * 5 + (-6.5,) + (-1.0,) * 4)
    per_class = list(records["ort-fp32"].per_class)
    per_class[5] -= 5.0
    return fakes.changed({**records, "ort-int8-qdq": replace(records["ort-int8-qdq"], correct=8520, accuracy=85.2,
                                                               per_class=tuple(per_class), stats=stats)},
                         "ort-int8-qdq")["ort-int8-qdq"]


def test_gate_margin_ci_turns_a_borderline_pass_into_a_failure_on_every_gate(records: dict) -> None:
    q = _borderline(records)
    point = Thresholds(min_accuracy=85, max_drop=2.5, max_class_drop=6)
    ci = replace(point, gate_margin="ci")
    assert gates.accuracy(q, point) is None and gates.drop(q, point) is None and gates.class_drop(q, point) is None
    assert gates.accuracy(q, ci) == ("ort-int8-qdq: one-sided 95% lower bound of top-1 84.60% (8520/10000 correct) "
                                     "is not above 85.00% (--ptq-min-accuracy, --ptq-gate-margin=ci)")
    assert gates.drop(q, ci).startswith("ort-int8-qdq: one-sided 95% upper bound of the top-1 drop 2.60 points")
    assert gates.class_drop(q, ci).startswith("ort-int8-qdq: class 'dog' drops (one-sided 95% upper bound) 6.5 points")
    assert set(gates.all_failures(q, ci)) == {"accuracy", "drop", "class-drop"}


def test_gate_margin_ci_without_statistics_is_an_error_not_a_silent_point_gate(records: dict) -> None:
    q = replace(records["ort-int8-qdq"], stats=None)
    msg = gates.drop(q, Thresholds(gate_margin="ci"))
    assert msg == ("ort-int8-qdq: --ptq-gate-margin=ci needs the paired statistics of ort-int8-qdq against ort-fp32, "
                   "and this record has none (it was not compared on the same images); gate it with "
                   "--ptq-gate-margin=point")
    assert gates.class_drop(q, Thresholds(gate_margin="ci")) == msg


def test_holm_and_bh_adjust_over_the_whole_run(records: dict) -> None:

    from ptq_helpers.analysis import multiplicity

    ps = {"ort-int8-qdq": 0.01, "ort-uint8-qdq": 0.04, "torch-int8-fx": 0.03}
    recs = {k: replace(r, stats=PairedStats(95.0, 10, 5, ps[r.id], -1.0, 0.1, 2000, 0,
                                            class_mcnemar_p=tuple(0.01 * (i + 1) for i in range(10))))
            if r.id in ps else r for k, r in fakes.seed_records().items()}
    out = multiplicity.adjust(recs)
    assert out["holm"] == {"ort-int8-qdq": 0.03, "ort-uint8-qdq": 0.06, "torch-int8-fx": 0.06}
    assert len(out["bh_per_class"]["ort-int8-qdq"]) == 10 and out["raw_significant"] == 3
    assert out["holm_significant"] == 1 and out["family"].startswith("3 quantized-vs-fp32 comparisons")
    assert out["disagree"] == ["ort-int8-qdq", "ort-uint8-qdq", "torch-int8-fx"]  # p < 0.05, interval holds 0


def test_identical_configurations_are_flagged() -> None:
    recs = fakes.seed_records()
    assert results.suspicious(recs) == {"models": [], "predictions": [], "expected": []}
    for case_id in ("ort-uint8-qdq", "ort-int8-qdq"):
        recs = fakes.changed(recs, case_id, sha256="ab" * 32)
    for case_id in ("torch-int8-fx", "ort-int8-qdq"):
        recs = fakes.changed(recs, case_id, predictions_sha256="cd" * 32)
    found = results.suspicious(recs)
    assert found["models"] == ["ort-int8-qdq and ort-uint8-qdq (differ in activation_type QInt8/QUInt8, weight_type "
                               "QInt8/QUInt8): byte-identical model files (sha256 abababababab...)"]
    assert found["predictions"][0].startswith("ort-int8-qdq and torch-int8-fx (differ in activation_type QInt8/None")
    assert found["predictions"][0].endswith(": identical top-1 predictions on all 10,000 images")


def test_identical_outputs_of_a_setting_that_is_a_no_op_on_this_cpu_are_expected_not_suspicious() -> None:
    """torch's x86 engine is fbgemm on a CPU without AVX-512 VNNI: two builds that differ only in it may be the same
    file there; on a VNNI CPU the same pair is still suspicious."""
    from ptq_helpers.matrix import cases

    x86 = fakes.record("torch-int8-fx-x86", 8592, 172_000)
    recs = fakes.changed({**fakes.seed_records(), x86.key: x86}, "torch-int8-fx-x86", sha256="torch-int8-fx".ljust(64,
                                                                                                                   "0"))
    without_vnni = cases.noops_on({"avx2": True, "avx512_vnni": False})
    found = results.suspicious(recs, without_vnni)
    assert found["models"] == [] and len(found["expected"]) == 1
    assert found["expected"][0].startswith("torch-int8-fx and torch-int8-fx-x86 (differ in engine fbgemm/x86): "
                                           "byte-identical model files, as expected on this CPU (torch's x86")
    assert results.suspicious(recs, cases.noops_on({"avx512_vnni": True}))["models"][0].startswith(
        "torch-int8-fx and torch-int8-fx-x86")


def test_built_this_run_is_one_short_line_with_the_detail_in_the_json() -> None:
    from ptq_helpers.results.run_results import BuildEvent
    from ptq_helpers.pytest_plugin.terminal import built_summary

    many = [BuildEvent(f"model-{i}", what, True) for i in range(30) for what in ("model", "predictions")]
    many += [BuildEvent("ort-fp32", "predictions", False), BuildEvent("x", "model (draw 2)", True)]
    assert built_summary(many) == "model x31, predictions x30 (1 reused; each one in --ptq-json's meta.built)"
    assert built_summary(many[:2]) == "model-0 model x1, model-0 predictions x1"
    assert built_summary([BuildEvent("a", "model", False)]) == "nothing (all reused from the cache)"


def test_a_noisy_timing_is_flagged_in_the_speed_table_and_the_report() -> None:
    from ptq_helpers.analysis import speed
    from ptq_helpers.report import document as report, payload as results
    from tests import fakes

    quiet = speed.figures(0.018, 256, 0.018, 100, iqr_s=0.0005, max_s=0.02)
    outlier = speed.figures(0.0001, 1, 0.0001, 100, iqr_s=0.00001, max_s=0.04)  # one round 400x the median
    assert not quiet["noisy"] and outlier["noisy"] and outlier["max_ms"] == 40.0
    bench = {"ort-fp32": {"1": outlier, "256": quiet}}
    assert speed.rows(bench, {"ort-fp32": "ort-fp32"})[0][1:4] == ("100 µs *", "1.00x", "14,222 img/s")
    data = json.loads(json.dumps(results.payload(fakes.run_results(fakes.seed_records(), bench), Thresholds(), {})))
    text = report.render(data)
    assert "| `ort-fp32` | 100 µs * | 14,222 |" in text and speed.NOISE_NOTE in text

