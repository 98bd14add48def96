"""The gate limits of a run (percent; points for drops), and the pinned fp32 baseline.

Size-reduction limits are per size kind (a framework declares its kind with its default limit, see
matrix.cases.SizeKind); the JSON keeps them flat as `min_size_reduction_<kind>`, so a reader needs no registry.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

SIZE_PREFIX = "min_size_reduction_"


def _registered_defaults() -> Mapping[str, float]:
    from ptq_helpers.matrix.cases import SIZE_KINDS

    return MappingProxyType({name: kind.default for name, kind in SIZE_KINDS.items()})


@dataclass(frozen=True)
class Thresholds:
    """Gate limits, in percent (points for drops), plus the pinned fp32 baseline."""

    min_accuracy: float = 85.0
    max_drop: float = 5.0
    max_class_drop: float = 10.0
    fp32_correct: int | None = 8719  # None: the gated model is not the reference ResNet8, so no pin applies
    gate_margin: str = "point"  # "ci": gate the one-sided 95% bounds (Clopper–Pearson top-1, paired bootstrap drops)
    max_sram_kib: float = 64.0  # Ethos-U55 (Vela estimate)
    max_flash_kib: float = 128.0
    max_npu_fallback_ops: int = 0
    max_arena_kib: float = 64.0  # TFLM tensor arena
    # "report": a quantized build whose runtime runs compute layers in float is said (xfail, summary, report), not
    # failed; "fail": it fails test_quantized_layers_run_as_integer and counts as a failed gate
    executed_precision: str = "report"
    min_speedup: float | None = None  # opt-in: batch-256 paired speedup vs the runtime's fp32 (benchmark runs only)
    # size kind -> minimum file-size reduction vs fp32 (percent); default: every registered kind's default
    size_reductions: Mapping[str, float] = field(default_factory=_registered_defaults)

    def min_size_reduction(self, kind: str) -> float:
        """The limit for a size kind (e.g. 'onnx', 'torch', 'tflite': the kind a framework declares)."""
        try:
            return self.size_reductions[kind]
        except KeyError:
            raise KeyError(f"no size-reduction limit for size kind {kind!r}; known: "
                           f"{', '.join(self.size_reductions) or 'none'}") from None

    def with_size(self, **limits: float) -> Thresholds:
        """A copy with some size kinds' limits replaced."""
        from dataclasses import replace

        return replace(self, size_reductions=MappingProxyType({**self.size_reductions, **limits}))

    def to_json(self) -> dict[str, Any]:
        """Flat, as the results JSON has always held them (one `min_size_reduction_<kind>` key per kind)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "size_reductions"}
        out.update({SIZE_PREFIX + kind: value for kind, value in self.size_reductions.items()})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        """The inverse of to_json; keys it does not know are ignored (a newer writer may add limits)."""
        names = {f.name for f in fields(cls)} - {"size_reductions"}
        sizes = {k.removeprefix(SIZE_PREFIX): float(v) for k, v in data.items() if k.startswith(SIZE_PREFIX)}
        return cls(**{k: v for k, v in data.items() if k in names}, size_reductions=MappingProxyType(sizes))
