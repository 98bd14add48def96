"""Results are self-describing: a results JSON of a framework the reading process never registered (a conftest's,
a user's) renders with `python -m ptq_helpers.report` and compares with `python -m ptq_helpers.compare`, each in a
fresh interpreter (no registry); a damaged or unknown-schema file is one line and exit 2, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ptq_helpers.analysis import speed
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report import payload as results, tables
from ptq_helpers.results.record import ModelRecord, linked
from ptq_helpers.results.run_results import RunResults

TOY = {"framework": "toy", "format": "npy", "baseline_id": "toy-fp32", "total": 10_000, "framework_label": "Toy",
       "format_label": "NumPy array", "size_kind": "npy", "framework_tools": "Toy `round(w / scale)`",
       "target_description": "this machine's CPU, in the test process"}
PER_CLASS = (90.0, 95.0, 84.0, 73.0, 87.0, 74.0, 95.0, 90.0, 92.0, 91.0)


def toy_record(case_id: str, dtype: str, correct: int, size: int, per_class: tuple[float, ...] = PER_CLASS,
               **fields: object) -> ModelRecord:
    """A record of the toy framework, made without the registry (no case of it exists in this process)."""
    return ModelRecord(id=case_id, dtype=dtype, dtype_label={"fp32": "float32"}.get(dtype, dtype), correct=correct,
                       accuracy=correct / 100, per_class=per_class, size_bytes=size, sha256=case_id.ljust(64, "0"),
                       predictions_sha256=case_id.ljust(64, "1"), quant=None if dtype == "fp32" else {"toy_bits": 8},
                       **{**TOY, **fields})


def toy_payload(int8_size: int = 300) -> dict:
    """The --ptq-json data of a run of the toy framework only, as read back from disk."""
    records = linked((toy_record("toy-fp32", "fp32", 8719, 1_000), toy_record("toy-int8", "int8", 8650, int8_size)))
    th = Thresholds.from_json({"min_accuracy": 5.0, "max_drop": 1.0, "min_size_reduction_npy": 60.0})
    data = json.loads(json.dumps(results.payload(RunResults(records=dict(records)), th, {"cpu": "Test CPU"})))
    assert "toy" not in {u["framework"] for u in data["unsupported"]}  # the live matrix's, replaced by the toy's
    data["unsupported"] = [{"id": "toy-uint8", "framework": "toy", "dtype": "uint8", "reason": "no unsigned toys",
                            "framework_label": "Toy", "dtype_label": "uint8"}]
    return data


def _cli(module: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True)


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


def test_unknown_framework_renders_with_the_report_cli_in_a_fresh_interpreter(tmp_path: Path) -> None:
    results.write_json(tmp_path / "toy.json", toy_payload())
    proc = _cli("ptq_helpers.report", tmp_path / "toy.json", "-o", tmp_path / "out" / "report.md")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out" / "report.md").read_text()
    assert "### Toy" in text and "| `toy-int8` | NumPy array |" in text and "Toy `round(w / scale)`" in text
    assert "size reduction at least 60% for Toy (size kind `npy`)" in text
    assert "| Toy (fp32 baseline) | float32 | 87.19% |" in text
    assert "| Toy | uint8 | N/A | N/A | N/A | Not supported (no unsigned toys) | `toy-uint8` |" in text
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
    assert "toy-int8: top-1 86.50% → 86.50% (+0.00), Δ vs fp32 -0.69 → -0.69 points, size 300 → 300 B (+0.0%)" in proc.stdout
    assert proc.stdout.rstrip().endswith("no regression")
    results.write_json(tmp_path / "new.json", toy_payload(int8_size=600))  # 40% smaller than fp32: below 60%
    grown = _cli("ptq_helpers.compare", tmp_path / "old.json", tmp_path / "new.json")
    assert grown.returncode == 1 and "Traceback" not in grown.stderr, grown.stdout + grown.stderr
    assert "REGRESSION toy-int8: passed every gate in OLD, fails size in NEW" in grown.stdout


def _damaged(data: dict, how: str) -> dict | str:
    if how == "schema":
        return {**data, "schema": 99}
    if how == "record":
        return {**data, "models": [{k: v for k, v in m.items() if k != "per_class"} for m in data["models"]]}
    if how == "thresholds":
        return {**data, "thresholds": 5}
    return json.dumps(data)[:200]  # truncated


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
