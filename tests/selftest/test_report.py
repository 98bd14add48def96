"""The report's command line (python -m ptq_helpers.report), in its own process: the same bytes as the run's
report, one clear message for bad input, and runs from two machines side by side."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ptq_helpers.report import document as report, payload as results
from tests import fakes


def test_cli_renders_a_byte_identical_report(tmp_path: Path) -> None:
    data = fakes.payload()
    results.write_json(tmp_path / "results.json", data)
    report.write(data, tmp_path / "run" / "report.md")
    proc = subprocess.run([sys.executable, "-m", "ptq_helpers.report", str(tmp_path / "results.json"),
                           "-o", str(tmp_path / "cli" / "report.md")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cli" / "report.md").read_bytes() == (tmp_path / "run" / "report.md").read_bytes()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read results"), ('{"a": 1}', "not a resnet8-ptq results file"),
    ('{"generator": "resnet8-ptq", "models": []}', "incomplete or damaged results (KeyError: 'thresholds')"),
    ('{"generator": "resnet8-ptq", "models": [{"id": "ort-fp32"}], "thresholds": {}, "classes": []}',
     "incomplete or damaged results (KeyError: ")])
def test_cli_rejects_bad_input_with_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "x.json").write_text(content)
    proc = subprocess.run([sys.executable, "-m", "ptq_helpers.report", str(tmp_path / "x.json"), "-o",
                           str(tmp_path / "r.md")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"x.json: {message}" in proc.stderr


def _machine(data: dict, cpu: str, **flags: bool) -> dict:
    data["meta"] = {**data["meta"], "cpu": cpu,
                    "targets": {"host via the test process": {"cpu": {"flags": flags}}}}
    return data


def test_runs_side_by_side_name_the_machines_and_the_verdicts_that_differ(tmp_path: Path) -> None:
    vnni = _machine(fakes.payload(), "VNNI box", avx2=True, avx512f=True, avx512_vnni=True)
    worse = fakes.changed(fakes.seed_records(), "ort-int8-qdq", correct=7000, accuracy=70.0,
                          predictions_sha256="f" * 64)
    avx2 = _machine(fakes.payload(worse), "AVX2 box", avx2=True)
    for name, data in (("vnni", vnni), ("avx2", avx2)):
        results.write_json(tmp_path / f"{name}.json", data)
    proc = subprocess.run([sys.executable, "-m", "ptq_helpers.report", str(tmp_path / "vnni.json"),
                           str(tmp_path / "avx2.json"), "-o", str(tmp_path / "both.md")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "both.md").read_text()
    assert "| `vnni` | VNNI box | avx2, avx512f, avx512_vnni | 3 |" in text
    assert "| `avx2` | AVX2 box | avx2 | 3 |" in text
    assert "| Model | vnni | avx2 | Same predictions |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `ort-int8-qdq` |"))
    assert "| 70.00% (-17.19) **FAIL: " in row and row.endswith("| differ |")
    assert "- `ort-int8-qdq`: **verdict differs**: vnni: 86." in text
    assert "| `ort-fp32` | 87.19% pass | 87.19% pass | yes |" in text
