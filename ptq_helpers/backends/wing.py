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

from collections.abc import Mapping
from typing import Protocol

from ptq_helpers.matrix.cases import Case, Format, Framework


class Wing(Protocol):
    """What a runtime wing's package declares (a module satisfies it by its attributes)."""

    FRAMEWORKS: tuple[Framework, ...]  # its registry entries (one runtime may build with several tools)
    FORMATS: Mapping[str, Format]  # the model formats its files are saved in
    CASES: tuple[Case, ...]  # its rows of the matrix (seed, mcu, fast, full)
