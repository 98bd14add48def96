"""The CLIs the CI examples (examples/ci/) call, run as a job runs them (child processes): `compare --markdown` writes
the comparison a job page shows, with compare's exit status, and `report --summary` a short page naming the failed
gates."""
from __future__ import annotations

import json
from pathlib import Path


def _results(tmp_path: Path, name: str, correct: int) -> Path:
    """A results file of the seed-shaped records with ort-int8-qdq at `correct` of 10,000."""
    from tests.fakes import changed, payload, seed_records

    path = tmp_path / name
    path.write_text(json.dumps(payload(changed(seed_records(), "ort-int8-qdq", correct=correct,
                                               accuracy=correct / 100))))
    return path


def test_compare_writes_the_regression_as_markdown_with_the_same_exit_status(tmp_path: Path) -> None:
    from tests.fakes import cli

    old, new, md = _results(tmp_path, "old.json", 8612), _results(tmp_path, "new.json", 8550), tmp_path / "cmp.md"
    proc = cli("ptq_helpers.compare", old, new, "--markdown", md)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = md.read_text()
    assert "**1 regression(s)**" in text and "ort-int8-qdq: top-1 fell 0.62 points" in text, text
    assert "| `ort-int8-qdq` | 86.12% → 85.50% (-0.62) |" in text
    same = cli("ptq_helpers.compare", old, old, "--markdown", md)
    assert same.returncode == 0 and "**No regression.**" in md.read_text()
    unwritable = cli("ptq_helpers.compare", old, old, "--markdown", tmp_path / "old.json" / "x.md")
    assert unwritable.returncode == 2 and "--markdown" in unwritable.stderr and "Traceback" not in unwritable.stderr


def test_report_summary_is_short_and_names_the_failed_gates(tmp_path: Path) -> None:
    from tests.fakes import cli

    bad, out = _results(tmp_path, "bad.json", 8000), tmp_path / "summary.md"
    proc = cli("ptq_helpers.report", bad, "--summary", "-o", out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("# resnet8-ptq: 2 of 3 quantized builds pass every gate"), text[:200]
    assert ":x: ort-int8-qdq" in text and "## Comparison table" in text and "## Per-class" not in text
    two = cli("ptq_helpers.report", bad, bad, "--summary", "-o", out)
    assert two.returncode == 2 and "--summary renders one results file" in two.stderr
