"""Micro-controller budgets of an int8 .tflite: Ethos-U55 estimates from Vela, TFLM's tensor arena, and
whether the graph is integer end to end."""
from __future__ import annotations

from pathlib import Path

from ptq_helpers.core.errors import PTQError
from ptq_helpers.results.mcu_budget import McuBudget


class NotForTheNpu(PTQError):
    """The build cannot be compiled for the Ethos-U (e.g. int4 weights with Vela 5.2): it is a Cortex-M CPU build,
    and the NPU budgets do not apply (a skip saying what was tried and what failed)."""

ACCELERATOR = "ethos-u55-128"


def measure(case_id: str, model: Path, workdir: Path) -> McuBudget:
    """Compile with Vela for the Ethos-U55-128 (its default High_End_Embedded system) and ask TFLM for
    the arena; raises VelaError / PTQError with the tool's own message."""
    from ptq_helpers.targets import tflm, vela

    try:
        summary = vela.compile_for_npu(model, workdir, ACCELERATOR)
    except vela.VelaError as exc:
        from ptq_helpers.backends.litert.size import has_int4

        if not has_int4(model):
            raise
        raise NotForTheNpu(f"{case_id}: no Ethos-U budget: the file has int4 weights and Vela cannot compile it "
                           f"(tried {ACCELERATOR}; Vela 5.2 dies with SIGFPE on int4 weights: docs/mcu-size.md); "
                           f"it runs on the Cortex-M CPU with TFLite Micro, gated by its <model>@mcu tests. "
                           f"Vela said: {str(exc).splitlines()[0]}") from None
    return McuBudget(
        id=case_id, accelerator=ACCELERATOR, inference_time_ms=round(summary.inference_time_s * 1e3, 4),
        cycles_npu=summary.cycles_npu, cycles_total=summary.cycles_total, sram_bytes=summary.sram_bytes,
        flash_bytes=summary.flash_bytes, npu_ops=summary.npu_ops, cpu_fallback_ops=summary.cpu_fallback_ops,
        arena_bytes=tflm.arena_bytes(model), non_integer_ops=tuple(tflm.non_integer_ops(model)))
