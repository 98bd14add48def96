"""Micro-controller budgets of an int8 .tflite: Ethos-U55 estimates from Vela, TFLM's tensor arena, and
whether the graph is integer end to end."""
from __future__ import annotations

from pathlib import Path

from ptq_helpers.results.mcu_budget import McuBudget

ACCELERATOR = "ethos-u55-128"


def measure(case_id: str, model: Path, workdir: Path) -> McuBudget:
    """Compile with Vela for the Ethos-U55-128 (its default High_End_Embedded system) and ask TFLM for
    the arena; raises VelaError / PTQError with the tool's own message."""
    from ptq_helpers.targets import tflm, vela

    summary = vela.compile_for_npu(model, workdir, ACCELERATOR)
    return McuBudget(
        id=case_id, accelerator=ACCELERATOR, inference_time_ms=round(summary.inference_time_s * 1e3, 4),
        cycles_npu=summary.cycles_npu, cycles_total=summary.cycles_total, sram_bytes=summary.sram_bytes,
        flash_bytes=summary.flash_bytes, npu_ops=summary.npu_ops, cpu_fallback_ops=summary.cpu_fallback_ops,
        arena_bytes=tflm.arena_bytes(model), non_integer_ops=tuple(tflm.non_integer_ops(model)))
