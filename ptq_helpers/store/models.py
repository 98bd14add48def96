"""One run's models and their evaluations, each built or loaded once per process, cached on disk: the store and
its parts (the inputs they start from: inputs.py; the model files: artifacts.py; the prediction sets on each
target: predictions.py; the measurements beside them: side.py)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np

from ptq_helpers.backends import evaluate
from ptq_helpers.core.artifacts import Stored
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.results import factory
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord
from ptq_helpers.results.run_results import BuildEvent
from ptq_helpers.store.artifacts import Artifacts
from ptq_helpers.store.inputs import Inputs
from ptq_helpers.store.predictions import Predictions
from ptq_helpers.store.side import SideMeasurements
from ptq_helpers.targets.base import Target
from ptq_helpers.targets.host import HOST


@dataclass(frozen=True)
class ModelResult:
    """A built model, its predictions on the 10,000 test images and their scores."""

    case: Case
    artifact: Stored
    probs: np.ndarray
    metrics: evaluate.Metrics
    record: ModelRecord  # what the gates, summary, JSON and report see
    target: Target = HOST

    @property
    def predictions(self) -> np.ndarray:
        return self.probs.argmax(axis=1)


def _from_inputs(name: str) -> property:
    """A read-only view of one attribute of the store's inputs (what tests and fixtures ask the store for)."""
    return property(lambda self: getattr(self.inputs, name), doc=f"Inputs.{name}")


class Store:
    """Lazily builds what a test asks for, from four parts: the run's inputs, the model files, the prediction sets
    (each target evaluates its own) and the measurements beside them; build-once across processes comes from the
    disk cache. A result's record is made by ptq_helpers.results.factory."""

    def __init__(self, settings: Settings, on_event: Callable[[BuildEvent], None] = lambda event: None,
                 on_target_facts: Callable[[str, dict[str, object]], None] = lambda target, facts: None) -> None:
        self.on_event, self.on_target_facts = on_event, on_target_facts
        self.inputs = Inputs(settings)
        self.artifacts = Artifacts(self.inputs, lambda event: self.on_event(event))
        self.predictions = Predictions(self.inputs, self.artifacts, lambda event: self.on_event(event),
                                       lambda target, facts: self.on_target_facts(target, facts))
        self.side = SideMeasurements(self.inputs, self.artifacts, self.predictions, lambda e: self.on_event(e))
        self._results: dict[str, ModelResult] = {}

    # what tests, fixtures and run steps read of the inputs
    settings = _from_inputs("settings")
    source = _from_inputs("source")
    source_sha256 = _from_inputs("source_sha256")
    source_of = _from_inputs("source_of")
    h5 = _from_inputs("h5")
    cifar_dir = _from_inputs("cifar_dir")
    test = _from_inputs("test")
    train = _from_inputs("train")
    calibration_indices = _from_inputs("calibration_indices")
    calibration_sha256 = _from_inputs("calibration_sha256")
    calibration_draw = _from_inputs("calibration_draw")
    validation_draw = _from_inputs("validation_draw")
    hashes = _from_inputs("hashes")
    versions = _from_inputs("versions")
    unavailable = _from_inputs("unavailable")
    torch_program = _from_inputs("torch_program")
    test_images_npy = _from_inputs("test_images_npy")

    def artifact(self, case: Case, draw: int = 0) -> Stored:
        return self.artifacts.artifact(case, draw)

    def cached_predictions(self, case: Case, stored: Stored) -> np.ndarray | None:
        return self.predictions.cached(case, stored)

    def reference_predictions(self, name: str, path: Path, target: Target) -> np.ndarray:
        return self.side.reference_predictions(name, path, target)

    def mcu_budget(self, case: Case) -> McuBudget:
        return self.side.mcu_budget(case)

    def diagnosis(self, case: Case, images: int) -> list[dict[str, object]]:
        return self.side.diagnosis(case, images)

    @overload
    def result(self, case: Case, draw: int = 0, target: Target = HOST, *,
               cached_only: Literal[False] = False) -> ModelResult: ...

    @overload
    def result(self, case: Case, draw: int = 0, target: Target = HOST, *,
               cached_only: bool) -> ModelResult | None: ...

    def result(self, case: Case, draw: int = 0, target: Target = HOST, *,
               cached_only: bool = False) -> ModelResult | None:
        """Build (or load) the case's model and score it on the full test split on a target, once per process.
        `cached_only` (the host's draw 0, what a benchmark run records): score the predictions a gate run left in
        the cache, whatever its thread count, and never evaluate: None when they (or its fp32 baseline's) are not
        there."""
        memo = f"{case.id}@{target.name}@{draw}"
        if memo in self._results:
            return self._results[memo]
        stored = self.artifact(case, draw)
        if cached_only:
            if not target.is_host or draw:
                raise ValueError("cached_only reads the host's draw-0 predictions only")
            found = self.cached_predictions(case, stored)
            if found is None:
                return None
            self.on_event(BuildEvent(case.id, "predictions", False))
            probs = found
        else:
            probs = np.load(self.predictions.of(case, target, stored, draw).path)
        metrics = evaluate.score(probs.argmax(1), self.test.labels)
        base_target = target.baseline or target  # e.g. Arm: the probe-validated host fp32
        base = None if case.is_fp32 or draw else self.result(cases.get(case.baseline_id), target=base_target,
                                                             cached_only=cached_only)
        if base is None and not case.is_fp32 and not draw:  # cached_only, and the baseline was never evaluated
            return None
        host = None if target.is_host or draw else self.result(case)
        record = factory.model_record(
            case, target.name, probs.argmax(1), self.test.labels, metrics, stored.size, stored.sha256,
            stats=self.side.paired_stats(base.predictions, probs.argmax(1)) if base else None,
            runtime=self.side.runtime_facts(case, stored) if target.is_host and not draw else
            self.predictions.notes.get(f"{case.id}@{target.name}@{draw}"),
            vs_host=host.predictions if host else None, target_description=target.here(),
            cpu=target.cpu_label(case),
            baseline_target=base_target.name if base is not None and base_target is not target else "",
            base=base.record if base else None)
        result = ModelResult(case, stored, probs, metrics, record, target)
        self._results[memo] = result
        return result
