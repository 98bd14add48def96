"""The pieces of the regression loop on small data: the not-run rule of gate verdicts, what changed between two
payloads, per-image flips, predicted classes in the JSON, terminal-width lines."""
from __future__ import annotations

import numpy as np

from ptq_helpers.analysis import gates
from ptq_helpers.analysis.changes import changes
from ptq_helpers.analysis.flips import flips
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.pytest_plugin.terminal import fit, wrapped
from ptq_helpers.report import tables
from ptq_helpers.results.record import decode_classes, encode_classes
from tests import fakes


def test_a_gate_whose_test_did_not_run_is_not_run_never_a_fail() -> None:
    """The rule (docs/gates-and-options.md): a gate counts only when its test ran in the session."""
    records = fakes.seed_records()
    strict = Thresholds(min_accuracy=86.0)  # torch-int8-fx (85.92%) fails accuracy
    fx = records["torch-int8-fx"]
    assert gates.verdict(fx, strict).text() == "FAIL: accuracy"  # no session: every gate counts
    only_size = {"torch-int8-fx": ["size"]}
    v = gates.verdict(fx, strict, only_size)
    assert v.failed == {} and v.not_run == ("accuracy", "drop", "class-drop") and v.text() == "pass (ran: size)"
    assert gates.verdict(records["torch-fp32"], strict, only_size).text() == "not run"
    assert gates.verdict(fx, strict, {"torch-int8-fx": ["accuracy"]}).text() == "FAIL: accuracy"
    assert [r.key for r in gates.passing(records, strict, only_size)] == ["torch-int8-fx"]
    lines = tables.table(records, strict, (), only_size)
    assert next(line for line in lines if line.startswith("torch-int8-fx")).endswith("pass (ran: size)")
    assert next(line for line in lines if line.startswith("ort-fp32")).endswith("not run")
    payload = fakes.payload(records, strict)
    assert payload["gates_run"] is None and payload["gates_not_run"] is None  # outside a session


def test_changes_name_thresholds_environment_and_setup() -> None:
    old = fakes.payload()
    new = fakes.payload(th=Thresholds(min_accuracy=86.0))
    new["meta"]["versions"] = {"onnxruntime": "1.0"}
    new["meta"]["calibration"] = {**new["meta"]["calibration"], "seed": 8}
    found = {(c.kind, c.field): (c.old, c.new) for c in changes(old, new)}
    assert found == {("thresholds", "min_accuracy"): (85.0, 86.0), ("environment", "onnxruntime"): ("9.9.9", "1.0"),
                     ("run", "calibration seed"): (7, 8)}
    assert changes(old, old) == []


def test_flips_count_each_direction_with_true_and_predicted_classes() -> None:
    labels = np.array([0, 1, 2, 3, 4])
    old, new = np.array([0, 1, 9, 9, 4]), np.array([0, 7, 2, 8, 4])
    f = flips(old, new, labels)
    assert [(x.index, x.true, x.old, x.new) for x in f.right_to_wrong] == [(1, 1, 1, 7)]
    assert [(x.index, x.true, x.old, x.new) for x in f.wrong_to_right] == [(2, 2, 9, 2)]
    assert f.wrong_to_other_wrong == 1 and not f.identical
    assert f.listing([str(c) for c in range(10)]) == ["right→wrong (1): #1 1: 1→7",
                                                      "wrong→right (1): #2 2: 9→2"]
    assert flips(old, old, labels).summary() == "identical answers"


def test_predicted_classes_round_trip_compactly() -> None:
    pred = np.arange(10_000) % 10
    text = encode_classes(pred)
    assert len(text) == 13_336 and (decode_classes(text, 10_000) == pred).all()


def test_terminal_lines_fit_and_verdicts_fold_without_losing_words() -> None:
    long = "FLOAT LAYERS: " + "layer, " * 200
    assert len(fit(long, 120)) <= 120 and fit(long, 120).endswith("(in full: --ptq-report)")
    verdict = "THRESHOLD torch-int8-fx: " + "word " * 60
    parts = wrapped(verdict, 80)
    assert all(len(p) <= 80 for p in parts) and " ".join(p.strip() for p in parts).split() == verdict.split()


def test_the_report_lists_images_where_targets_of_one_build_disagree() -> None:
    from dataclasses import replace

    from ptq_helpers.analysis.flips import build_disagreements, target_disagreements
    from ptq_helpers.results.record import linked

    labels = np.arange(10_000) % 10
    host = labels.copy()
    host[:50] = 0
    mcu = host.copy()
    mcu[[7, 8]] = 5
    recs = fakes.seed_records()
    q = recs["ort-int8-qdq"]
    both = linked([*recs.values(), replace(q, predictions=encode_classes(host)),
                   replace(q, target="mcu", predictions=encode_classes(mcu))])
    assert target_disagreements(both) == {"ort-int8-qdq": [7, 8]}
    other = replace(recs["ort-uint8-qdq"], predictions=encode_classes(labels))
    disputed = build_disagreements(linked([*both.values(), other]), labels)
    assert disputed[0][:3] == (1, 1, 1) and disputed[0][3] == {0: 1, 1: 1}  # image 1: one build wrong (0), one right
