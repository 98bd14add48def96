"""The regression gate across runs: python -m ptq_helpers.compare OLD NEW, and --ptq-baseline in a run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers import compare
from ptq_helpers.report import payload as results
from ptq_helpers.matrix.thresholds import Thresholds
from tests import fakes

META = {"versions": {}, "cpu": "Test CPU", "threads": 1}


def _hits(correct: int, first_wrong: int = 0) -> str:
    right = np.zeros(10_000, bool)
    right[first_wrong:first_wrong + correct] = True
    return np.packbits(right).tobytes().hex()


def _payload(records: dict, bench: dict | None = None) -> dict:
    return json.loads(json.dumps(results.payload(fakes.run_results(records, bench), Thresholds(), META)))


def _run(tmp_path: Path, old: dict, new: dict, *extra: str) -> subprocess.CompletedProcess:
    for name, data in (("old", old), ("new", new)):
        results.write_json(tmp_path / f"{name}.json", data)
    return subprocess.run([sys.executable, "-m", "ptq_helpers.compare", str(tmp_path / "old.json"),
                           str(tmp_path / "new.json"), *extra], capture_output=True, text=True)


def test_an_unchanged_run_is_no_regression(tmp_path: Path) -> None:
    proc = _run(tmp_path, _payload(fakes.seed_records()), _payload(fakes.seed_records()))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("no regression")
    assert ("ort-int8-qdq: top-1 86.12% → 86.12% (+0.00), Δ vs fp32 -1.07 → -1.07 points, size 125,431 → 125,431 B "
            "(+0.0%)") in proc.stdout


def test_a_model_that_lost_accuracy_fails_with_the_model_delta_and_paired_test(tmp_path: Path) -> None:
    old = fakes.changed(fakes.seed_records(), "ort-int8-qdq", hits=_hits(8612))
    new = fakes.changed(fakes.seed_records(), "ort-int8-qdq", correct=8500, accuracy=85.0, hits=_hits(8500, 112))
    proc = _run(tmp_path, _payload(old), _payload(new))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("REGRESSION ort-int8-qdq: top-1 fell 1.12 points (86.12% → 85.00%), more than 0.5 (--max-accuracy-loss); "
            "112 only old right, 0 only new right, McNemar p 3.85e-34") in proc.stdout
    assert "REGRESSION ort-int8-qdq: passed every gate in OLD, fails accuracy in NEW" in proc.stdout
    assert proc.stdout.rstrip().endswith("2 regression(s)")
    lenient = _run(tmp_path, _payload(old), _payload(new), "--max-accuracy-loss", "1.5", "--ptq-min-accuracy", "84")
    assert lenient.returncode == 2 and "unrecognized arguments: --ptq-min-accuracy" in lenient.stderr
    within = fakes.changed(fakes.seed_records(), "ort-int8-qdq", correct=8550, accuracy=85.5, hits=_hits(8550, 62))
    assert _run(tmp_path, _payload(old), _payload(within), "--max-accuracy-loss", "1.5").returncode == 0


def test_size_speed_and_missing_models_are_regressions_too(tmp_path: Path) -> None:
    fig = {"256": {"images_per_s": 40_000.0}}
    old = _payload(fakes.seed_records(), {"ort-int8-qdq": fig})
    grown = fakes.changed(fakes.seed_records(), "ort-int8-qdq", size_bytes=140_000)
    new = _payload({k: v for k, v in grown.items() if k != "torch-int8-fx"},
                   {"ort-int8-qdq": {"256": {"images_per_s": 20_000.0}}})
    proc = _run(tmp_path, old, new)
    assert proc.returncode == 1
    regressions = [line for line in proc.stdout.splitlines() if line.startswith("REGRESSION")]
    assert regressions == [
        "REGRESSION ort-int8-qdq: file grew 11.6% (125,431 → 140,000 bytes), more than 5% (--max-size-growth)",
        "REGRESSION ort-int8-qdq: batch-256 throughput fell 50.0% (40,000 → 20,000 img/s), more than 25% "
        "(--max-slowdown)",
        "REGRESSION torch-int8-fx: measured in OLD but not in NEW (--allow-missing accepts that)"]


@pytest.mark.parametrize(("content", "message"), [("{oops", "cannot read results"),
                                                  ('{"generator": "x"}', "not a resnet8-ptq results file")])
def test_bad_input_is_one_message_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "old.json").write_text(content)
    results.write_json(tmp_path / "new.json", _payload(fakes.seed_records()))
    proc = subprocess.run([sys.executable, "-m", "ptq_helpers.compare", str(tmp_path / "old.json"),
                           str(tmp_path / "new.json")], capture_output=True, text=True)
    assert proc.returncode == 2 and f"old.json: {message}" in proc.stderr and "Traceback" not in proc.stderr


def test_ptq_baseline_fails_a_run_whose_model_regressed(suite: pytest.Pytester) -> None:
    better = fakes.changed(fakes.seed_records(), "ort-int8-qdq", correct=8700, accuracy=87.0)
    results.write_json(suite.path / "release.json", _payload(better))
    suite.makepyfile(test_fake=fakes.FAKE_RESULTS)
    result = suite.runpytest("--ptq-baseline=release.json", "--ptq-json=today.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["against --ptq-baseline release.json: * regression(s)*",
                                 "REGRESSION ort-int8-qdq: top-1 fell 0.88 points (87.00% → 86.12%)*",
                                 "results written to */today.json"])
    assert compare.load(suite.path / "today.json")["models"]


def test_ptq_baseline_that_is_not_a_results_file_is_a_usage_error(suite: pytest.Pytester) -> None:
    (suite.path / "x.json").write_text("[]")
    result = suite.runpytest("--ptq-baseline=x.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ptq-baseline: x.json: not a resnet8-ptq results file; write one with pytest "
                                 "--ptq-json PATH"])
