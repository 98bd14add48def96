"""Micro-controller budgets of one int8 .tflite, as measured (see ptq_helpers.targets.mcu) and as the JSON holds
them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class McuBudget:
    """One int8 .tflite on a micro-controller: Vela's Ethos-U estimate and TFLM's measured arena."""

    id: str
    accelerator: str
    inference_time_ms: float
    cycles_npu: int
    cycles_total: int
    sram_bytes: int
    flash_bytes: int
    npu_ops: int
    cpu_fallback_ops: tuple[str, ...]  # operator types Vela leaves to the CPU
    arena_bytes: int  # TFLM tensor arena, found by the interpreter
    non_integer_ops: tuple[str, ...]  # operators with float tensors (must be none on a micro-controller)

    @classmethod
    def from_json(cls, data: dict) -> McuBudget:
        return cls(**{**data, "cpu_fallback_ops": tuple(data["cpu_fallback_ops"]),
                      "non_integer_ops": tuple(data["non_integer_ops"])})
