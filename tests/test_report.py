"""The analysis report: structure, numbers taken from the results, rules, figures, JSON round trip."""
from __future__ import annotations

import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ptq_helpers.report import document as report, payload as results
from ptq_helpers.matrix.thresholds import Thresholds
from tests import fake

SECTIONS = ["# ResNet8 CIFAR-10 post-training quantization analysis", "## Executive summary", "## Comparison table",
            "## Accuracy-drop assessment", "## Per-class accuracy", "## Size comparison", "## Framework comparison",
            "## Recommendation", "## Methodology", "### Calibration details"]
META = {"versions": {"onnxruntime": "9.9.9"}, "cpu": "Test CPU", "threads": 3, "source_sha256": "abc123",
        "test_sha256": "t" * 64, "train_sha256": "r" * 64, "calibration_indices_sha256": "i" * 64,
        "calibration": {"seed": 7, "per_class": 50, "split": "train"}}


def _payload(records: dict | None = None, th: Thresholds | None = None, bench: dict | None = None) -> dict:
    data = results.payload(fake.run_results(records or fake.seed_records(), bench), th or Thresholds(), META)
    return json.loads(json.dumps(data))


def test_every_section_of_the_analysis_document_in_order() -> None:
    text = report.render(_payload())
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "| PyTorch | uint8 | N/A | N/A | N/A | Not supported (fbgemm requires qint8 weights) | `torch-uint8-fx` |" in text


def test_numbers_come_from_the_results() -> None:
    recs = fake.changed(fake.seed_records(), "ort-uint8-qdq", correct=8543, accuracy=85.43, size_bytes=111_111)
    text = report.render(_payload(recs))
    assert "| ONNX Runtime | uint8 | 85.43% | -1.76 | 108.5 KiB | 65.4% | `ort-uint8-qdq` |" in text
    assert "**Largest per-class drop:** dog in `ort-int8-qdq`: 74.0% → 69.0% (-5.0 points)." in text
    assert "indices sha256 `" + "i" * 64 in text and "`np.random.seed(7)`" in text and "50 images per class" in text
    assert "CPU Test CPU, 3 thread(s)" in text and "onnxruntime 9.9.9" in text


def test_recommendation_follows_the_measured_numbers() -> None:
    recs = fake.seed_records()
    assert "ship ONNX Runtime uint8 (`ort-uint8-qdq`)" in report.render(_payload(recs))
    recs = fake.changed(recs, "ort-int8-qdq", correct=8700, accuracy=87.0)
    text = report.render(_payload(recs))
    assert "ship ONNX Runtime int8 (`ort-int8-qdq`)" in text
    assert "| Best compression | ONNX Runtime uint8 (`ort-uint8-qdq`) |" in text  # still the smallest file
    assert "| PyTorch-only deployment | PyTorch int8 (`torch-int8-fx`) | 85.92% | -1.27 |" in text


def test_a_failing_model_is_reported_as_failing_and_not_recommended() -> None:
    recs = fake.changed(fake.seed_records(), "ort-uint8-qdq", correct=8400, accuracy=84.0)
    text = report.render(_payload(recs))
    assert "| `ort-uint8-qdq` | 84.00% | 3.19 | 3.0 | **Fail** |" in text
    assert ("- ort-uint8-qdq: top-1 84.00% (8400/10000 correct) is not above 85.00% (--ptq-min-accuracy, "
            "--ptq-gate-margin=point)") in text
    assert "2 of 3 quantized models pass every gate; failing: `ort-uint8-qdq`." in text
    assert "ship ONNX Runtime int8 (`ort-int8-qdq`)" in text


def test_nothing_passing_recommends_fp32() -> None:
    text = report.render(_payload(th=Thresholds(min_accuracy=87.0)))
    assert "no quantized build passes every gate; ship the fp32 model" in text
    assert "| Best accuracy | none passes every gate |" in text


def test_thresholds_are_quoted() -> None:
    text = report.render(_payload(th=Thresholds(max_drop=2.5, max_class_drop=4.0)))
    assert "drop below 2.5 points" in text and "more than 4 points" in text


def test_benchmarks_appear_when_they_ran() -> None:
    fig = {"1": {"median_ms": 0.25, "images_per_s": 4000.0}, "256": {"median_ms": 30.0, "images_per_s": 8533.3}}
    text = report.render(_payload(bench={"ort-int8-qdq": fig}))
    assert "| `ort-int8-qdq` | 250 µs | 8,533 |" in text
    assert "| Fastest on this CPU | ONNX Runtime int8 (`ort-int8-qdq`) |" in text
    assert "Benchmarks were not run" in report.render(_payload())


def test_figures_are_written_and_linked(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="figures need the report extra: pip install -e '.[report]'")
    written = report.write(_payload(), tmp_path / "out" / "r.md")
    names = sorted(p.name for p in written)
    assert names == ["r-accuracy-vs-size.png", "r-per-class-delta.png", "r.md"]
    text = (tmp_path / "out" / "r.md").read_text()
    assert "![Accuracy vs model size](r-accuracy-vs-size.png)" in text
    assert all((tmp_path / "out" / n).read_bytes()[:4] == b"\x89PNG" for n in names if n.endswith(".png"))


def test_without_matplotlib_the_markdown_is_complete_and_says_so(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object):  # noqa: ANN202
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    written = report.write(_payload(), tmp_path / "r.md")
    text = written[0].read_text()
    assert written == [tmp_path / "r.md"] and "![" not in text
    assert "Figures were skipped: matplotlib is not installed (pip install -e '.[report]')." in text
    assert all(s in text for s in SECTIONS)


def test_cli_renders_a_byte_identical_report(tmp_path: Path) -> None:
    data = _payload()
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


def test_per_layer_diagnosis_section_lists_the_noisiest_activations_first() -> None:
    data = _payload()
    data["diagnosis"] = {"model": "ort-int8-qdq", "accuracy": 86.12, "images": 200, "rows": [
        {"tensor": "a", "qdq_sqnr_db": 30.0, "vs_fp32_sqnr_db": 25.0},
        {"tensor": "b", "qdq_sqnr_db": 31.0, "vs_fp32_sqnr_db": 12.5},
        {"tensor": "c", "qdq_sqnr_db": 31.0, "vs_fp32_sqnr_db": None}]}
    text = report.render(data)
    assert "## Per-layer diagnosis" in text and "`ort-int8-qdq` (86.12%)" in text
    assert text.index("| `b` | 12.5 | 31.0 |") < text.index("| `a` | 25.0 | 30.0 |")
    assert "Lowest cumulative SQNR: `b` at 12.5 dB; highest: `a` at 25.0 dB (2 activations compared)." in text


def _machine(data: dict, cpu: str, **flags: bool) -> dict:
    data["meta"] = {**data["meta"], "cpu": cpu,
                    "targets": {"host via the test process": {"cpu": {"flags": flags}}}}
    return data


def test_runs_side_by_side_name_the_machines_and_the_verdicts_that_differ(tmp_path: Path) -> None:
    vnni = _machine(_payload(), "VNNI box", avx2=True, avx512f=True, avx512_vnni=True)
    worse = fake.changed(fake.seed_records(), "ort-int8-qdq", correct=7000, accuracy=70.0,
                         predictions_sha256="f" * 64)
    avx2 = _machine(_payload(worse), "AVX2 box", avx2=True)
    for name, data in (("vnni", vnni), ("avx2", avx2)):
        results.write_json(tmp_path / f"{name}.json", data)
    proc = subprocess.run([sys.executable, "-m", "ptq_helpers.report", str(tmp_path / "vnni.json"),
                           str(tmp_path / "avx2.json"), "-o", str(tmp_path / "both.md")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "both.md").read_text()
    assert "| `vnni` | VNNI box | avx2, avx512f, avx512_vnni | 3 |" in text
    assert "| `avx2` | AVX2 box | avx2 | 3 |" in text
    assert "| Model | vnni | avx2 | Same predictions |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `ort-int8-qdq` |"))
    assert "| 70.00% (-17.19) **FAIL: " in row and row.endswith("| differ |")
    assert "- `ort-int8-qdq`: **verdict differs**: vnni: 86." in text
    assert "| `ort-fp32` | 87.19% pass | 87.19% pass | yes |" in text
