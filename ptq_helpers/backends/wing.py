"""The one protocol between the generic code and a runtime wing (`ptq_helpers.backends.<runtime>`).

A wing is a sub-package that holds everything of one runtime: its builders, runner, runtime facts and per-layer
numerics, each named by dotted path in its `Framework` entries (so registering a wing imports no ML library), and
the matrix rows built with it. The registry (`ptq_helpers.backends`) lists the wings and is the only place that
does; the generic code (store, targets, plugin, report) reaches a runtime only through these entries:

- `Framework.build` / `build_fp32`: fp32 source -> the model file; `run`: model file -> `run(images) -> probs`;
- `Framework.runtime_facts`: (case, model) -> {"executed": Executed(...).to_json(), ...}, asked of the runtime;
- `Framework.layers`: (case, fp32 source, model, images) -> per-layer rows, where accuracy is lost (the wing's
  `layers.py`);
- `Framework.run_cases`: () -> None, re-creates in a child process the cases a run added (`--ptq-search=size`).
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from ptq_helpers.core.artifacts import Stored
from ptq_helpers.data.model_inputs import ModelSplit
from ptq_helpers.matrix.cases import Case, Format, Framework, resolve
from ptq_helpers.matrix.settings import Settings


class Wing(Protocol):
    """What a runtime wing's package declares (a module satisfies it by its attributes)."""

    FRAMEWORKS: tuple[Framework, ...]  # its registry entries (one runtime may build with several tools)
    FORMATS: Mapping[str, Format]  # the model formats its files are saved in
    CASES: tuple[Case, ...]  # its rows of the matrix (seed, mcu, fast, full)


@dataclass(frozen=True)
class ProgramExporter:
    """The wing function that makes a torch.export program of the fp32 ONNX file, for converters that take one
    (`export(source, dest, images)`: checked against ONNX Runtime on `images`)."""

    function: str  # "module:function"
    libraries: tuple[str, ...]  # distributions whose versions shape the program (cache keys)

    def module(self) -> ModuleType:
        return importlib.import_module(self.function.partition(":")[0])

    def export(self, source: Path, dest: Path, images: np.ndarray) -> None:
        resolve(self.function)(source, dest, images)


class RunStore(Protocol):
    """What a wing's run step (`Framework.run_step`, e.g. the size search) reads of the run's store."""

    @property
    def settings(self) -> Settings: ...

    @property
    def test(self) -> ModelSplit: ...

    @property
    def train(self) -> ModelSplit: ...

    @property
    def versions(self) -> dict[str, str]: ...

    @property
    def calibration_sha256(self) -> str: ...

    def artifact(self, case: Case, draw: int = 0) -> Stored: ...

    def validation_draw(self, draw: int) -> np.ndarray: ...
