"""The report's micro-controller section (ptq_helpers.report.mcu), from a results payload alone: each MCU build's
TFLM accuracy joined with its budgets, the Pareto fronts, which build fits which memory budget, and the figure."""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report import document as report
from ptq_helpers.report import mcu
from tests import fakes

BASE = [88.0, 95.0, 84.0, 73.0, 87.0, 74.0, 95.0, 90.0, 92.0, 93.0]
# (id, correct on TFLM, file bytes, Vela SRAM bytes, Vela flash bytes, TFLM arena bytes)
BUILDS = [("litert-int8", 8685, 98_544, 51_840, 79_296, 56_528),
          ("litert-w8a8-lq", 8718, 98_312, 51_840, 79_296, 56_560),
          ("litert-int16x8", 8723, 101_872, 100_640, 80_816, 107_760)]


def _payload() -> dict:
    records = [fakes.record("litert-fp32", 8719, 321_192, BASE)]
    records += [replace(fakes.record(i, c, size, BASE), target="mcu") for i, c, size, *_ in BUILDS]
    records += [replace(records[0], target="mcu")]
    data = fakes.payload(fakes.linked(records))
    th = Thresholds()
    for i, _c, _size, sram, flash, arena in BUILDS:
        budget = replace(fakes.MCU_BUDGET, id=i, sram_bytes=sram, flash_bytes=flash, arena_bytes=arena)
        data["mcu"][i] = {**asdict(budget), "gates": gates.mcu_budgets(budget, th)}
    return data


def test_each_build_is_joined_with_its_tflm_record_and_its_failed_budgets() -> None:
    found = {b.id: b for b in mcu.builds(_payload())}
    assert set(found) == {"litert-int8", "litert-w8a8-lq", "litert-int16x8"}
    assert found["litert-int16x8"].record.target == "mcu" and found["litert-int16x8"].accuracy == 87.23
    assert set(found["litert-int16x8"].failed) == {"sram", "arena"} and not found["litert-w8a8-lq"].failed


def test_pareto_fronts_drop_a_build_beaten_on_both_axes() -> None:
    found = mcu.builds(_payload())
    # int8 has the same flash and SRAM as w8a8-lq and is less accurate: on no front
    assert [b.id for b in mcu.pareto(found, "sram_kib")] == ["litert-w8a8-lq", "litert-int16x8"]
    assert [b.id for b in mcu.pareto(found, "flash_kib")] == ["litert-w8a8-lq", "litert-int16x8"]


def test_which_build_fits_which_budget() -> None:
    rows = {r[0]: r[1:] for r in mcu.fits(mcu.builds(_payload()), Thresholds())}
    assert rows["Ethos-U55 SRAM (Vela) ≤ 64 KiB (the run's budget)"] == (
        "`litert-int8`, `litert-w8a8-lq`", "`litert-w8a8-lq` (87.18%)")
    assert rows["Ethos-U55 SRAM (Vela) ≤ 99 KiB"][1] == "`litert-int16x8` (87.23%)"
    assert rows["Cortex-M RAM (TFLM arena) ≤ 106 KiB"][1] == "`litert-int16x8` (87.23%)"


def test_the_section_is_in_the_report_and_absent_without_budgets() -> None:
    text = report.render(_payload(), {"mcu": "r-mcu.png"})
    assert "## Micro-controller builds: accuracy vs flash and SRAM" in text
    assert "![Accuracy vs flash and vs SRAM](r-mcu.png)" in text
    assert ("| `litert-int16x8` | int16 act/int8 wt | 87.23% (TFLM) | +0.04 | 101,872 B | 107,760 B | 78.9 KiB | "
            "98.3 KiB | 100% (51 NPU, 0 CPU) | 185,790 | flash, SRAM | **fail**: sram, arena |") in text
    assert "## Micro-controller builds" not in report.render(fakes.payload())


def test_the_figure_is_drawn(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib", reason="figures need the report extra: pip install -e '.[report]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = mcu.draw(_payload(), tmp_path, "r", plt)
    assert made == {"mcu": tmp_path / "r-mcu.png"} and made["mcu"].read_bytes()[:4] == b"\x89PNG"
    assert mcu.draw(fakes.payload(), tmp_path, "none", plt) == {}
