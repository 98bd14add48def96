"""Everything a run is configured with (from options, ini and environment)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptq_helpers.data.assets import Assets
from ptq_helpers.data.calibration import DEFAULT_PER_CLASS, DEFAULT_SEED
from ptq_helpers.data.input_contract import InputContract


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured with (from options, ini and environment)."""

    assets: Assets
    cache: Path
    threads: int
    seed: int = DEFAULT_SEED
    per_class: int = DEFAULT_PER_CLASS
    rebuild: bool = False
    matrix: str = "seed"
    sweep_draws: int = 0  # calibration-draw sweep size; 0 = off
    recipe_draws: int = 0  # --ptq-recipe-draws: draws 1..K of the chosen builds' recipes; 0 = off
    targets: tuple[str, ...] = ("host",)  # deployment targets (targets.TARGETS keys)
    backend: Mapping[str, Any] = field(default_factory=dict)  # the frameworks' own options, by dest
    reference: bool = True  # the fp32 model's weights are MLPerf Tiny's ResNet8 (contract.REFERENCE_WEIGHTS_SHA256)
    contract: InputContract = InputContract()  # how the model is fed and what it gives (data/input_contract.py)
    conversion: Mapping[str, Any] | None = None  # a .pt2's ONNX export: its fp32 agreement on the test images
    run_id: str = "local"
    cache_note: str | None = None  # set when the requested cache was not writable
