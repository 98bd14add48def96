"""The analysis report: structure, numbers taken from the results, rules, figures, JSON round trip (its command
line, in its own process: tests/selftest/test_report.py)."""
from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.report import document as report
from ptq_helpers.matrix.thresholds import Thresholds
from tests import fakes

SECTIONS = ["# ResNet8 CIFAR-10 post-training quantization analysis", "## Executive summary", "## Comparison table",
            "## Accuracy-drop assessment", "## Per-class accuracy", "## Size comparison", "## Framework comparison",
            "## Recommendation", "## Methodology", "### Calibration details"]


def test_every_section_of_the_analysis_document_in_order() -> None:
    text = report.render(fakes.payload())
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert ("| PyTorch | uint8 | N/A | N/A | N/A | Not supported (fbgemm requires qint8 weights) | `torch-uint8-fx` "
            "|") in text


def test_numbers_come_from_the_results() -> None:
    recs = fakes.changed(fakes.seed_records(), "ort-uint8-qdq", correct=8543, accuracy=85.43, size_bytes=111_111)
    text = report.render(fakes.payload(recs))
    assert "| ONNX Runtime | uint8 | 85.43% | -1.76 | 108.5 KiB | 65.4% | `ort-uint8-qdq` |" in text
    assert "**Largest per-class drop:** dog in `ort-int8-qdq`: 74.0% → 69.0% (-5.0 points)." in text
    assert "indices sha256 `" + "i" * 64 in text and "`np.random.seed(7)`" in text and "50 images per class" in text
    assert "CPU Test CPU, 3 thread(s)" in text and "onnxruntime 9.9.9" in text


def test_recommendation_follows_the_measured_numbers() -> None:
    recs = fakes.seed_records()
    assert "ship ONNX Runtime uint8 (`ort-uint8-qdq`)" in report.render(fakes.payload(recs))
    recs = fakes.changed(recs, "ort-int8-qdq", correct=8700, accuracy=87.0)
    text = report.render(fakes.payload(recs))
    assert "ship ONNX Runtime int8 (`ort-int8-qdq`)" in text
    assert "| Best compression | ONNX Runtime uint8 (`ort-uint8-qdq`) |" in text  # still the smallest file
    assert "| PyTorch-only deployment | PyTorch int8 (`torch-int8-fx`) | 85.92% | -1.27 |" in text


def test_a_failing_model_is_reported_as_failing_and_not_recommended() -> None:
    recs = fakes.changed(fakes.seed_records(), "ort-uint8-qdq", correct=8400, accuracy=84.0)
    text = report.render(fakes.payload(recs))
    assert "| `ort-uint8-qdq` | 84.00% | -3.19 | -3.0 | **Fail** |" in text
    assert ("- ort-uint8-qdq: top-1 84.00% (8400/10000 correct) is not above 85.00% (--ptq-min-accuracy, "
            "--ptq-gate-margin=point)") in text
    assert "2 of 3 quantized models pass every gate; failing: `ort-uint8-qdq`." in text
    assert "ship ONNX Runtime int8 (`ort-int8-qdq`)" in text


def test_nothing_passing_recommends_fp32() -> None:
    text = report.render(fakes.payload(th=Thresholds(min_accuracy=87.0)))
    assert "no quantized build passes every gate; ship the fp32 model" in text
    assert "| Best accuracy | none passes every gate |" in text


def test_thresholds_are_quoted() -> None:
    text = report.render(fakes.payload(th=Thresholds(max_drop=2.5, max_class_drop=4.0)))
    assert "drop below 2.5 points" in text and "more than 4 points" in text


def test_benchmarks_appear_when_they_ran() -> None:
    fig = {"1": {"median_ms": 0.25, "images_per_s": 4000.0}, "256": {"median_ms": 30.0, "images_per_s": 8533.3}}
    text = report.render(fakes.payload(bench={"ort-int8-qdq": fig}))
    assert "| `ort-int8-qdq` | 250 µs | 8,533 |" in text
    assert "| Fastest passing build on this CPU (batch 256) | ONNX Runtime int8 (`ort-int8-qdq`) |" in text
    assert "Benchmarks were not run" in report.render(fakes.payload())


def test_figures_are_written_and_linked(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="figures need the report extra: pip install -e '.[report]'")
    written = report.write(fakes.payload(), tmp_path / "out" / "r.md")
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
    written = report.write(fakes.payload(), tmp_path / "r.md")
    text = written[0].read_text()
    assert written == [tmp_path / "r.md"] and "![" not in text
    assert "Figures were skipped: matplotlib is not installed (pip install -e '.[report]')." in text
    assert all(s in text for s in SECTIONS)


def test_per_layer_diagnosis_section_lists_the_noisiest_activations_first() -> None:
    data = fakes.payload()
    data["diagnosis"] = {"model": "ort-int8-qdq", "accuracy": 86.12, "images": 200, "rows": [
        {"tensor": "a", "qdq_sqnr_db": 30.0, "vs_fp32_sqnr_db": 25.0},
        {"tensor": "b", "qdq_sqnr_db": 31.0, "vs_fp32_sqnr_db": 12.5},
        {"tensor": "c", "qdq_sqnr_db": 31.0, "vs_fp32_sqnr_db": None}]}
    text = report.render(data)
    assert "## Per-layer diagnosis" in text and "`ort-int8-qdq` (86.12%)" in text
    assert text.index("| `b` | 12.5 | 31.0 |") < text.index("| `a` | 25.0 | 30.0 |")
    assert "Lowest cumulative SQNR: `b` at 12.5 dB; highest: `a` at 25.0 dB (2 activations compared)." in text


def test_recipe_uncertainty_is_reported_with_the_pick_it_implies() -> None:
    from ptq_helpers.analysis import recipe

    rng = np.random.default_rng(3)
    n = 2_000  # images: the method does not depend on the count, and 10,000 x 1,000 resamples is slow for a unit test
    fp32 = rng.random(n) < 0.87
    data = fakes.payload()
    passing = [m["id"] for m in data["models"] if m["dtype"] != "fp32" and not data["gates"].get(m["id"])]
    top = max((m for m in data["models"] if m["id"] in passing), key=lambda m: m["accuracy"])["id"]
    other = next(k for k in passing if k != top)
    data["recipe"] = {top: recipe.summarize(fp32, np.stack([rng.random(n) < 0.85 for _ in range(10)]), fp32,
                                            "recommended (best accuracy)"),
                      other: recipe.summarize(fp32, np.stack([rng.random(n) < 0.89 for _ in range(10)]), fp32,
                                              "best of its backend")}
    text = report.render(data)
    assert "### Recipe-level uncertainty" in text and "two-level percentile bootstrap" in text
    assert f"**By recipe mean the recommendation would differ:** `{other}`" in text
    r = data["recipe"][top]
    assert r["draws"] == 10 and r["interval"][0] < r["mean"] < r["interval"][1] and r["worst"] == min(r["accuracies"])


def test_matched_settings_rows_say_what_the_framework_changes() -> None:
    from ptq_helpers.results.record import linked

    recs = linked((*fakes.seed_records().values(), fakes.record("torch-int8-fx-pt-mm8", 8571, 170_000)))
    text = report.render(fakes.payload(recs))
    assert "**Matched settings**" in text
    assert ("- `torch-int8-fx-pt-mm8` 85.71% (-1.48) vs `ort-int8-qdq` 86.12% (-1.07): with the same recipe "
            "(per-tensor weights, minmax8 activations), PyTorch is -0.41 points from ONNX Runtime.") in text


def test_the_targets_section_says_how_each_target_was_gated_and_that_emulation_has_no_speed() -> None:
    """From the records alone: an Arm build's fp32 is the probe-checked host's (`baseline_target`), an mcu build's
    its own target's fp32; an emulated target is marked as not timed."""
    from dataclasses import replace

    recs = fakes.seed_records()
    arm = replace(recs["ort-int8-qdq"], target="arm64-n1", baseline_target="host", base=None)
    mcu = [replace(recs[k], target="mcu", base=None) for k in ("ort-fp32", "ort-uint8-qdq")]
    data = fakes.payload({r.key: r for r in (*recs.values(), arm, *mcu)})
    data["meta"]["targets"] = {"host via the test process": {"how": "in the test process", "cpu": {}},
                               "arm64-n1 via qemu": {"how": "qemu-aarch64 -cpu neoverse-n1", "mode": "qemu", "cpu": {}}}
    text = report.render(data)
    assert "On `mcu` it is gated against the fp32 model of its framework measured on the same target" in text
    assert "On `arm64-n1` the fp32 model runs only as a probe" in text and "gated against them" in text
    assert "| arm64-n1 | qemu-aarch64 -cpu neoverse-n1 (emulated: speed not measured) |" in text
    assert "| host | in the test process |" in text
