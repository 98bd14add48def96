"""All pass/fail thresholds in one place, with their ini keys and command-line options."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

from ptq_helpers.errors import ConfigError


@dataclass(frozen=True)
class Thresholds:
    """Gate limits, in percent (points for drops), plus the pinned fp32 baseline."""

    min_accuracy: float = 85.0
    max_drop: float = 5.0
    min_size_reduction_onnx: float = 55.0
    min_size_reduction_torch: float = 45.0
    max_class_drop: float = 10.0
    fp32_correct: int = 8719
    drop_gate: str = "point"  # "ci": gate the upper bound of the bootstrap 95% interval of the drop

    def min_size_reduction(self, framework: str) -> float:
        return self.min_size_reduction_onnx if framework == "onnxruntime" else self.min_size_reduction_torch


# field -> (ini key, command-line flag, help)
SETTINGS: dict[str, tuple[str, str, str]] = {
    "min_accuracy": ("ptq_min_accuracy", "--ptq-min-accuracy", "every model's top-1 must exceed this (percent)"),
    "max_drop": ("ptq_max_drop", "--ptq-max-drop", "quantized top-1 drop vs its framework's fp32 must stay below this (points)"),
    "min_size_reduction_onnx": ("ptq_min_size_reduction_onnx", "--ptq-min-size-reduction-onnx", "ONNX file size reduction vs fp32 must reach this (percent)"),
    "min_size_reduction_torch": ("ptq_min_size_reduction_torch", "--ptq-min-size-reduction-torch", "TorchScript file size reduction vs fp32 must reach this (percent)"),
    "max_class_drop": ("ptq_max_class_drop", "--ptq-max-class-drop", "no class may lose more than this many points vs fp32"),
    "fp32_correct": ("ptq_fp32_correct", "--ptq-fp32-correct", "pinned number of correct fp32 predictions out of 10,000"),
    "drop_gate": ("ptq_drop_gate", "--ptq-drop-gate", "'point' gates the measured drop, 'ci' the upper bound of "
                  "its paired-bootstrap 95%% interval"),
}


def _parse(name: str, raw: object, source: str) -> float | int | str:
    if name == "drop_gate":
        value = str(raw).strip()
        if value not in ("point", "ci"):
            raise ConfigError(f"{source}: {value!r} is not a drop gate; use 'point' or 'ci'")
        return value
    kind: Callable[[str], float | int] = int if name == "fp32_correct" else float
    try:
        value = kind(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{source}: {raw!r} is not a number; give e.g. {getattr(Thresholds, name)!r}") from None
    upper = 10_000 if name == "fp32_correct" else 100
    if not 0 <= value <= upper:
        raise ConfigError(f"{source}: {value} is outside 0..{upper}; give a value in that range")
    return value


def resolve(cli: dict[str, object | None], ini: dict[str, object | None]) -> Thresholds:
    """Defaults, overridden by ini values, overridden by command-line values; each validated."""
    values: dict[str, float | int | str] = {}
    for f in fields(Thresholds):
        ini_key, flag, _ = SETTINGS[f.name]
        if cli.get(f.name) is not None:
            values[f.name] = _parse(f.name, cli[f.name], flag)
        elif ini.get(f.name) not in (None, ""):
            values[f.name] = _parse(f.name, ini[f.name], f"[tool.pytest.ini_options] {ini_key}")
    return Thresholds(**values)  # type: ignore[arg-type]
