"""The gate limits of a run (percent; points for drops), and the pinned fp32 baseline."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Gate limits, in percent (points for drops), plus the pinned fp32 baseline."""

    min_accuracy: float = 85.0
    max_drop: float = 5.0
    min_size_reduction_onnx: float = 55.0
    min_size_reduction_torch: float = 45.0
    max_class_drop: float = 10.0
    fp32_correct: int | None = 8719  # None: the gated model is not the reference ResNet8, so no pin applies
    gate_margin: str = "point"  # "ci": gate the one-sided 95% bounds (Clopper–Pearson top-1, paired bootstrap drops)
    min_size_reduction_tflite: float = 55.0
    max_sram_kib: float = 64.0  # Ethos-U55 (Vela estimate)
    max_flash_kib: float = 128.0
    max_npu_fallback_ops: int = 0
    max_arena_kib: float = 64.0  # TFLM tensor arena

    def min_size_reduction(self, kind: str) -> float:
        """The limit for a framework's size threshold kind ('onnx', 'torch' or 'tflite', see cases.Framework)."""
        return getattr(self, f"min_size_reduction_{kind}")
