"""The regression loop as a user runs it (issue 36): compare explains what changed before it judges, lists the
flipped images, names each verdict's cause; --ptq-baseline's limits are pytest options and ini keys and each
regression is a failed item (JUnit XML); every results JSON carries its provenance."""
from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.core.classes import CLASSES
from ptq_helpers.report import payload as results
from ptq_helpers.results.record import encode_classes, linked
from tests import fakes

LABELS = np.arange(10_000) % 10  # image i is of class i % 10


def _answers(correct: int, wrong_as: int = 1) -> np.ndarray:
    """Predicted classes: the first `correct` images right, the rest answered `wrong_as` classes off."""
    pred = LABELS.copy()
    pred[correct:] = (LABELS[correct:] + wrong_as) % 10
    return pred


def _with_predictions(records: dict, answers: dict[str, np.ndarray]) -> dict:
    out = []
    for r in records.values():
        pred = answers.get(r.id, _answers(r.correct))
        out.append(replace(r, predictions=encode_classes(pred),
                           hits=np.packbits(pred == LABELS).tobytes().hex(), correct=int((pred == LABELS).sum()),
                           accuracy=float((pred == LABELS).mean() * 100)))
    return linked(out)


def _payload(records: dict, th: object = None, meta: dict | None = None) -> dict:
    from ptq_helpers.matrix.thresholds import Thresholds

    run = fakes.run_results(records)
    run.labels = "".join(map(str, LABELS.tolist()))
    data = results.payload(run, th or Thresholds(), {**fakes.REPORT_META, **(meta or {})})
    return json.loads(json.dumps(data))


def _compare(tmp_path: Path, old: dict, new: dict, *extra: str):  # noqa: ANN202
    for name, data in (("old", old), ("new", new)):
        results.write_json(tmp_path / f"{name}.json", data)
    return fakes.cli("ptq_helpers.compare", tmp_path / "old.json", tmp_path / "new.json", *extra)


def test_a_threshold_change_is_reported_as_such_not_as_a_model_regression(tmp_path: Path) -> None:
    from ptq_helpers.matrix.thresholds import Thresholds

    records = _with_predictions(fakes.seed_records(), {})
    proc = _compare(tmp_path, _payload(records), _payload(records, Thresholds(min_accuracy=86.0)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "  thresholds: min_accuracy 85.0 → 86.0" in out
    assert "torch-int8-fx: top-1 85.92% → 85.92% (+0.00)" in out and "identical answers" in out
    assert ("THRESHOLD torch-int8-fx: fails accuracy in NEW only because the thresholds changed (min_accuracy 85.0 → "
            "86.0); its answers are identical; by OLD's thresholds it passes") in out
    assert "REGRESSION" not in out and out.rstrip().endswith("no regression")


def test_an_environment_change_is_listed_and_fails_only_when_asked(tmp_path: Path) -> None:
    records = _with_predictions(fakes.seed_records(), {})
    old = _payload(records)
    new = copy.deepcopy(old)
    new["meta"].update(versions={"onnxruntime": "9.9.10"}, cpu="Other CPU", threads=4)
    proc = _compare(tmp_path, old, new)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for said in ("environment: onnxruntime 9.9.9 → 9.9.10", "environment: CPU Test CPU → Other CPU",
                 "environment: threads 3 → 4", "ENVIRONMENT the environment changed: onnxruntime 9.9.9 → 9.9.10"):
        assert said in proc.stdout, proc.stdout
    strict = _compare(tmp_path, old, new, "--environment-change=fail")
    assert strict.returncode == 1 and "REGRESSION the environment changed" in strict.stdout
    assert "(--environment-change=fail)" in strict.stdout


def test_a_new_model_is_listed(tmp_path: Path) -> None:
    records = _with_predictions(fakes.seed_records(), {})
    fewer = linked(r for r in records.values() if r.id != "ort-uint8-qdq")
    proc = _compare(tmp_path, _payload(fewer), _payload(records))
    assert proc.returncode == 0
    assert "NEW ort-uint8-qdq: measured only in NEW (top-1 86.37%); no baseline" in proc.stdout
    assert "  ort-uint8-qdq: new in NEW, top-1 86.37%" in proc.stdout


def test_a_changed_model_lists_its_flipped_images_with_their_classes(tmp_path: Path) -> None:
    old = _with_predictions(fakes.seed_records(), {})
    pred = _answers(8612)
    pred[:100] = (LABELS[:100] + 3) % 10  # 100 images right in OLD, wrong in NEW
    pred[8612:8632] = LABELS[8612:8632]  # 20 images wrong in OLD, right in NEW
    new = _with_predictions(fakes.seed_records(), {"ort-int8-qdq": pred})
    proc = _compare(tmp_path, _payload(old), _payload(new), "--flips", "3", "--markdown", tmp_path / "c.md")
    assert proc.returncode == 1, proc.stdout
    assert "answers changed on 120 images: 100 right→wrong, 20 wrong→right, 0 wrong→other wrong" in proc.stdout
    first = ", ".join(f"#{i} {CLASSES[i % 10]}: {CLASSES[i % 10]}→{CLASSES[(i + 3) % 10]}" for i in range(3))
    assert f"  ort-int8-qdq right→wrong (100): {first} (first 3 of 100)" in proc.stdout
    assert "  ort-int8-qdq wrong→right (20): #8612 " in proc.stdout
    assert "REGRESSION ort-int8-qdq: top-1 fell 0.80 points" in proc.stdout
    assert "THRESHOLD" not in proc.stdout and "what changed besides the models: nothing recorded" in proc.stdout
    assert f"`ort-int8-qdq` right→wrong (100): {first}" in (tmp_path / "c.md").read_text()


def test_compare_writes_to_stdout_and_files(tmp_path: Path) -> None:
    records = _with_predictions(fakes.seed_records(), {})
    proc = _compare(tmp_path, _payload(records), _payload(records), "-o", tmp_path / "out.txt", "--markdown", "-")
    assert proc.returncode == 0 and proc.stdout.startswith("## resnet8-ptq:")
    assert (tmp_path / "out.txt").read_text().rstrip().endswith("no regression")
    assert not (tmp_path / "-").exists()
    quiet = _compare(tmp_path, _payload(records), _payload(records), "-o", "/dev/null", "--markdown", "/dev/null")
    assert quiet.returncode == 0 and quiet.stdout == "" and Path("/dev/null").is_char_device()  # written, not replaced


def test_ptq_baseline_limits_are_pytest_options_and_ini_keys_and_regressions_are_failed_items(
        suite: pytest.Pytester) -> None:
    better = fakes.changed(fakes.seed_records(), "ort-int8-qdq", correct=8700, accuracy=87.0)
    results.write_json(suite.path / "release.json", fakes.payload(better))
    suite.makepyfile(test_fake=fakes.FAKE_RESULTS)
    lenient = suite.runpytest("--ptq-baseline=release.json", "--ptq-max-accuracy-loss=1", "--ptq-allow-missing=yes",
                              "--ptq-max-size-growth=50")
    assert lenient.ret == pytest.ExitCode.OK, lenient.stdout.str()
    lenient.stdout.fnmatch_lines(["against --ptq-baseline release.json: no regression*"])
    strict = suite.runpytest("--ptq-baseline=release.json", "-o", "ptq_max_accuracy_loss=0.5",
                             "-o", "ptq_allow_missing=yes", "-o", "ptq_max_size_growth=50", "--junitxml=j.xml", "-ra")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["REGRESSION ort-int8-qdq: top-1 fell 0.88 points (87.00% → 86.12%), more than 0.5 "
                                 "(--ptq-max-accuracy-loss)*",
                                 "FAILED resnet8-ptq::baseline[[]ort-int8-qdq[]] - REGRESSION ort-int8-qdq*",
                                 "*1 failed, 2 passed*"])
    cases = ET.parse(suite.path / "j.xml").getroot().iter("testcase")
    failed = {c.get("name"): c.find("failure").get("message") for c in cases if c.find("failure") is not None}
    assert list(failed) == ["baseline[ort-int8-qdq]"]
    assert "(--ptq-max-accuracy-loss)" in failed["baseline[ort-int8-qdq]"]
    missing = suite.runpytest("--ptq-baseline=release.json", "--ptq-max-size-growth=50", "-x")
    assert missing.ret == pytest.ExitCode.TESTS_FAILED
    missing.stdout.fnmatch_lines(["*REGRESSION torch-fp32: measured in OLD but not in NEW (--ptq-allow-missing=yes "
                                  "accepts that)*"])
    bad = suite.runpytest("-o", "ptq_max_slowdown=lots")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*-o ptq_max_slowdown: 'lots' is not a number; give one in 0..100 (default 25.0)*"])


def test_every_results_json_carries_its_provenance(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fake=fakes.FAKE_RESULTS)
    result = suite.runpytest("--ptq-json=out.json", "--ptq-report=out.md")
    assert result.ret == pytest.ExitCode.OK
    prov = json.loads((suite.path / "out.json").read_text())["meta"]["provenance"]
    assert set(prov) >= {"started_utc", "suite_version", "git", "command", "host", "machine_id", "cpu", "cpu_flags",
                         "threads", "python", "platform"}
    assert prov["started_utc"].endswith("+00:00") and prov["command"][:2] == ["pytest", "--ptq-json=out.json"]
    assert prov["git"] is None or {"commit", "dirty"} <= set(prov["git"])
    text = (suite.path / "out.md").read_text()
    assert "## This run" in text and f"- started: {prov['started_utc']}" in text
