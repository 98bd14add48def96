"""The readers as users run them: `python -m ptq_helpers.report` and `python -m ptq_helpers.compare` on a results JSON
of a framework the reading process never registered, each in a fresh interpreter (no registry): exit 0; a damaged
or unknown-schema file is one line and exit 2, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ptq_helpers.report import payload as results
from tests.fakes import cli as _cli, damaged as _damaged, toy_payload


def test_unknown_framework_renders_with_the_report_cli_in_a_fresh_interpreter(tmp_path: Path) -> None:
    results.write_json(tmp_path / "toy.json", toy_payload())
    proc = _cli("ptq_helpers.report", tmp_path / "toy.json", "-o", tmp_path / "out" / "report.md")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out" / "report.md").read_text()
    assert "### Toy" in text and "| `toy-int8` | NumPy array |" in text and "Toy `round(w / scale)`" in text
    assert "size reduction at least 60% for Toy (size kind `npy`)" in text
    assert "| Toy (fp32 baseline) | float32 | 87.19% |" in text
    assert "| Toy | uint8 | N/A | N/A | N/A | Not supported (no unsigned toys) | - | - | `toy-uint8` |" in text
    assert "| Toy-only deployment | Toy int8 (`toy-int8`) | 86.50% | -0.69 |" in text
    assert "No configuration exceeds a threshold." in text


def test_the_reader_needs_no_registry(tmp_path: Path) -> None:
    """The report and compare run in a process that registered no framework at all (ptq_helpers.backends, the
    catalog, is never imported), so nothing can have been looked up in a registry."""
    results.write_json(tmp_path / "toy.json", toy_payload())
    script = (f"import sys; from ptq_helpers.report.document import main; from ptq_helpers import compare; "
              f"rc = main([{str(tmp_path / 'toy.json')!r}, '-o', {str(tmp_path / 'r.md')!r}]) "
              f"or compare.main([{str(tmp_path / 'toy.json')!r}, {str(tmp_path / 'toy.json')!r}]); "
              f"from ptq_helpers.matrix import cases; "
              f"assert 'ptq_helpers.backends' not in sys.modules and not cases.FRAMEWORKS, sorted(sys.modules); "
              f"sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "### Toy" in (tmp_path / "r.md").read_text() and proc.stdout.rstrip().endswith("no regression")


def test_unknown_framework_compares_with_the_compare_cli_in_a_fresh_interpreter(tmp_path: Path) -> None:
    results.write_json(tmp_path / "old.json", toy_payload())
    results.write_json(tmp_path / "new.json", toy_payload())
    proc = _cli("ptq_helpers.compare", tmp_path / "old.json", tmp_path / "new.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("toy-int8: top-1 86.50% → 86.50% (+0.00), Δ vs fp32 -0.69 → -0.69 points, size 300 → 300 B "
            "(+0.0%)") in proc.stdout
    assert proc.stdout.rstrip().endswith("no regression")
    results.write_json(tmp_path / "new.json", toy_payload(int8_size=600))  # 40% smaller than fp32: below 60%
    grown = _cli("ptq_helpers.compare", tmp_path / "old.json", tmp_path / "new.json")
    assert grown.returncode == 1 and "Traceback" not in grown.stderr, grown.stdout + grown.stderr
    assert "REGRESSION toy-int8: passed every gate in OLD, fails size in NEW" in grown.stdout


@pytest.mark.parametrize(("how", "message"), [
    ("schema", "results schema 99 is not one this resnet8-ptq reads (schema 1)"),
    ("record", "incomplete or damaged results (KeyError: 'per_class' in models[0])"),
    ("thresholds", "incomplete or damaged results (AttributeError: "),
    ("truncated", "cannot read results ("),
])
@pytest.mark.parametrize("cli", ["report", "compare"])
def test_a_damaged_or_unknown_schema_file_is_one_line_and_exit_2(tmp_path: Path, cli: str, how: str,
                                                                 message: str) -> None:
    bad = _damaged(toy_payload(), how)
    (tmp_path / "bad.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
    results.write_json(tmp_path / "good.json", toy_payload())
    args = (["ptq_helpers.report", tmp_path / "bad.json", "-o", tmp_path / "r.md"] if cli == "report"
            else ["ptq_helpers.compare", tmp_path / "good.json", tmp_path / "bad.json"])
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"bad.json: {message}" in lines[0]
    assert "pytest --ptq-json" in lines[0] or "resnet8-ptq that wrote it" in lines[0]  # the fix
    assert not (tmp_path / "r.md").exists()
