"""Speed in the decision, end to end on the real model in child pytest processes with a cache of their own: a
benchmark run before any gate run times the model and says its accuracy was not measured (evaluating nothing);
after `pytest -n 2` a benchmark run gives one report with every timed model's accuracy and paired speedups,
again without evaluating the test set."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ptq_helpers.analysis.paired import MIN_PAIRS

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]
PICK = "ort-fp32 or ort-int8-qdq"


def _pytest(cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESNET8_PTQ_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_benchmark_run_reports_accuracy_from_the_gate_and_paired_speed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = _pytest(cache, "--benchmark-only", "-k", "ort-int8-qdq and batch256", "--ptq-report",
                     str(tmp_path / "before.md"))
    out = before.stdout + before.stderr
    assert before.returncode == 0, out[-3000:]
    assert "evaluating" not in out  # a benchmark run never evaluates the test set
    text = (tmp_path / "before.md").read_text()
    assert "| `ort-int8-qdq` | not measured | - |" in text
    assert "accuracy not measured: run `pytest -n auto` first" in text

    gate = _pytest(cache, "-n", "2", "-k", PICK)
    assert gate.returncode == 0, (gate.stdout + gate.stderr)[-3000:]

    after = _pytest(cache, "--benchmark-only", "-k", PICK, "--ptq-report", str(tmp_path / "r.md"), "--ptq-json",
                    str(tmp_path / "r.json"))
    out = after.stdout + after.stderr
    assert after.returncode == 0, out[-3000:]
    assert "evaluating" not in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert not [b for b in data["meta"]["built"] if "predictions" in b], data["meta"]["built"]
    models = {m["id"]: m for m in data["models"]}
    assert models["ort-fp32"]["correct"] == 8719  # the gate's pinned fp32, read back from its cached predictions
    assert models["ort-int8-qdq"]["stats"] is not None  # paired statistics vs fp32, as the gate records them
    for batch in ("1", "256"):
        paired = data["benchmarks"]["ort-int8-qdq"][batch]["vs_fp32"]
        assert paired["baseline"] == "ort-fp32" and paired["pairs"] >= MIN_PAIRS
        assert paired["ci"][0] <= paired["ratio"] <= paired["ci"][1]
    text = (tmp_path / "r.md").read_text()
    assert "## Accuracy × size × speed on this CPU" in text
    accuracy = f"{models['ort-int8-qdq']['accuracy']:.2f}%"
    ratio = data["benchmarks"]["ort-int8-qdq"]["256"]["vs_fp32"]
    row = next(line for line in text.splitlines() if line.startswith("| `ort-int8-qdq` | "))
    assert accuracy in row and f"{ratio['ratio']:.2f}x [{ratio['ci'][0]:.2f}, {ratio['ci'][1]:.2f}]" in row
    assert "**Fastest passing build on this CPU:**" in text and "Tie rule:" in text
    assert "no model results in this payload" not in text
    assert "accuracy x size x speed" in after.stdout  # the terminal summary's speed table
