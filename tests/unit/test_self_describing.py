"""Results are self-describing: every fact a reader needs is in the record and the JSON (the CLIs reading a file of an
unknown framework in a fresh interpreter: tests/selftest/test_reader_clis.py)."""
from __future__ import annotations

import json
from dataclasses import replace


from ptq_helpers.analysis import speed
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report import tables
from ptq_helpers.results.record import ModelRecord, linked
from tests import fakes
from tests.fakes import TOY, toy_payload, toy_record

def test_the_json_carries_every_fact_a_reader_needs() -> None:
    data = toy_payload(int8_size=600)
    toy = {m["id"]: m for m in data["models"]}["toy-int8"]
    assert {k: toy[k] for k in TOY} == TOY and toy["dtype_label"] == "int8"
    assert data["thresholds"]["min_size_reduction_npy"] == 60.0
    assert "is below 60.0% (--ptq-min-size-reduction-npy)" in data["gates"]["toy-int8"]["size"]


def test_a_record_round_trips_with_its_descriptive_fields() -> None:
    rec = linked((toy_record("toy-fp32", "fp32", 8719, 1_000), toy_record("toy-int8", "int8", 8650, 300)))["toy-int8"]
    back = ModelRecord.from_json(json.loads(json.dumps(rec.to_json())))
    assert back == rec and back.label == "Toy int8 (`toy-int8`)" and back.size_kind == "npy"
    assert (back.framework_label, back.format_label, back.framework_tools) == ("Toy", "NumPy array",
                                                                               "Toy `round(w / scale)`")


def test_a_file_written_before_the_descriptive_fields_still_reads() -> None:
    old = {k: v for k, v in toy_record("ort-int8-qdq", "int8", 8612, 125_431, framework="onnxruntime",
                                       format="qdq").to_json().items()
           if k not in ("framework_label", "dtype_label", "format_label", "size_kind", "framework_tools",
                        "target_description")}
    rec = ModelRecord.from_json(old)
    assert (rec.framework_label, rec.dtype_label, rec.format_label) == ("onnxruntime", "int8", "qdq")  # raw ids
    assert rec.size_kind == "onnx"  # what such a file's ONNX Runtime records were gated with
    unknown = ModelRecord.from_json({**old, "framework": "acme"})
    assert unknown.framework_label == "acme" and unknown.size_kind == "acme"


def test_tables_follow_the_records_and_place_unsupported_rows_after_their_framework() -> None:
    data = toy_payload()
    records = linked(ModelRecord.from_json(m) for m in data["models"])
    extra = {"id": "late-int8", "framework": "late", "dtype": "int8", "reason": "r"}
    body = tables.rows(records, Thresholds.from_json(data["thresholds"]), [*data["unsupported"], extra])
    assert [r[0] for r in body] == ["toy-fp32", "toy-int8", "toy-uint8", "late-int8"]
    assert body[2][1:3] == ("Toy", "uint8") and body[3][1:3] == ("late", "int8")  # no label: the raw ids


def test_the_speed_table_compares_with_the_first_timed_fp32_of_the_records() -> None:
    data = toy_payload()
    records = linked(ModelRecord.from_json(m) for m in data["models"])
    bench = {"toy-int8": {"256": {"images_per_s": 300.0, "median_ms": 1.0}},
             "toy-fp32": {"256": {"images_per_s": 100.0, "median_ms": 3.0}}}
    baselines = speed.baselines_of(records)
    ref = speed.reference(bench, baselines)
    assert ref == "toy-fp32" and speed.headers(ref)[-1] == "batch 256 vs toy-fp32"
    assert [r[0] for r in speed.rows(bench, baselines)] == ["toy-fp32", "toy-int8"]
    assert speed.rows(bench, baselines)[1][-2:] == ("3.00x", "3.00x")
    assert speed.reference(bench, {}) is None and speed.rows(bench, {})[0][-1] == "-"


def test_a_record_that_lacks_a_size_limit_fails_its_size_gate_with_a_message() -> None:
    from ptq_helpers.analysis import gates

    records = linked((toy_record("toy-fp32", "fp32", 8719, 1_000), toy_record("toy-int8", "int8", 8650, 300)))
    rec = replace(records["toy-int8"], size_kind="other")
    message = gates.size_reduction(rec, Thresholds.from_json({"min_size_reduction_npy": 60}))
    assert message == ("toy-int8: no size-reduction limit for its size kind 'other' in these thresholds (known: npy); "
                       "set one with --ptq-min-size-reduction-other")


def test_an_arm_record_links_to_the_host_fp32_it_was_gated_against() -> None:
    """An Arm build's fp32 is the probe-checked host's (`baseline_target`): a reader of the JSON links it there,
    so its Δ, size reduction and gates exist in the summary, report and compare."""
    recs = fakes.seed_records()
    arm = replace(recs["ort-int8-qdq"], target="arm64-n1", correct=8612, accuracy=86.12, baseline_target="host",
                  base=None)
    again = linked([*recs.values(), ModelRecord.from_json(arm.to_json())])
    assert again["ort-int8-qdq@arm64-n1"].base.key == "ort-fp32"
    assert round(again["ort-int8-qdq@arm64-n1"].drop, 2) == 1.07
    alone = linked([*recs.values(), replace(arm, baseline_target="")])
    assert alone["ort-int8-qdq@arm64-n1"].base is None  # no ort-fp32@arm64-n1 in the run: no baseline
