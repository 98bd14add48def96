"""Measurements beside the models' predictions, each cached like them: a .tflite's predictions as a reference, the
micro-controller budgets, the per-layer diagnosis, what the runtime reports and the paired statistics."""
from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ptq_helpers.analysis import stats
from ptq_helpers.core.artifacts import Stored, cache_key, get_or_build, source_sha256
from ptq_helpers.core.fileio import sha256_bytes, sha256_file
from ptq_helpers.matrix import cases
from ptq_helpers.data.input_contract import InputContract
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import PairedStats
from ptq_helpers.results.run_results import BuildEvent
from ptq_helpers.targets import base as targets, mcu, tflm, vela
from ptq_helpers.targets.base import Target
from ptq_helpers.targets.host import HOST
from ptq_helpers.store.artifacts import Artifacts
from ptq_helpers.store.inputs import Inputs
from ptq_helpers.store.predictions import Predictions


@dataclass
class SideMeasurements:
    """Measured from the run's inputs, model files and prediction sets (each a part of the store)."""

    inputs: Inputs
    artifacts: Artifacts
    predictions: Predictions
    on_event: Callable[[BuildEvent], None]

    @property
    def settings(self) -> Settings:
        return self.inputs.settings

    def reference_predictions(self, name: str, path: Path, target: Target) -> np.ndarray:
        """Top-1 of a given .tflite (e.g. MLPerf's own int8 model) on a target, with the LiteRT case's runner on
        the host and the target's kernels elsewhere; cached like every prediction set."""
        stored = Stored(path, sha256_file(path), path.stat().st_size, built=False)
        return np.load(self.predictions.of(cases.reference_case(path.suffix), target, stored, 0, name,  # as MLPerf's
                                         contract=InputContract()).path).argmax(1)

    def mcu_budget(self, case: Case) -> McuBudget:
        """Vela's Ethos-U estimate and TFLM's arena for the case's .tflite, measured once per model and versions."""
        stored = self.artifacts.artifact(case)
        key = cache_key({"model": stored.sha256, "versions": self.inputs.versions,
                         "code": source_sha256(mcu, vela, tflm, targets)})
        folder = self.settings.cache / "mcu" / f"{case.id}-{key[:16]}"

        def run(tmp: Path) -> None:
            with tempfile.TemporaryDirectory(prefix="ptq-vela-") as work:
                budget = mcu.measure(case.id, stored.path, Path(work))
            tmp.write_text(json.dumps(asdict(budget)))

        done = get_or_build(folder, "budget.json", run, run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "mcu budget", done.built))
        return McuBudget.from_json(json.loads(done.path.read_text()))

    def diagnosis(self, case: Case, images: int) -> list[dict[str, object]]:
        """Per-layer numerics of a quantized model against the fp32 source on the first `images` test images (its
        wing's `Framework.layers`), measured once per model, source, images, code and versions (a warm run reads
        it, importing no runtime)."""
        if not case.backend.layers:
            raise ValueError(f"{case.id}: {case.backend.label} measures no per-layer numerics (Framework.layers)")
        layers = case.backend.layers
        stored = self.artifacts.artifact(case)
        key = cache_key({"model": stored.sha256, "source": self.inputs.source_sha256, "test": self.inputs.test.sha256,
                         "images": images, "versions": self.inputs.versions,
                         "code": source_sha256(importlib.import_module(layers.partition(":")[0]))})
        folder = self.settings.cache / "diagnosis" / f"{case.id}-{key[:16]}"

        def run(tmp: Path) -> None:
            rows = cases.resolve(layers)(case, self.inputs.source, stored.path,
                                         self.inputs.test.images(np.arange(images)))
            tmp.write_text(json.dumps(rows))

        done = get_or_build(folder, "sqnr.json", run, run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "per-layer diagnosis", done.built))
        return json.loads(done.path.read_text())

    def runtime_facts(self, case: Case, stored: Stored) -> dict[str, str] | None:
        """What the runtime reports about how it runs the model (asked once per model, runner code and library
        versions, then read from the cache: a warm run imports no framework for it)."""
        ask = case.backend.runtime_facts
        if not ask:
            return None
        key = cache_key({"model": stored.sha256, "case": case.spec(), "versions": self.inputs.versions,
                         "threads": self.settings.threads, "code": self.predictions.runner_code(case, HOST)})
        folder = self.settings.cache / "runtime" / f"{case.id}-{key[:16]}"

        def run(tmp: Path) -> None:
            tmp.write_text(json.dumps(cases.resolve(ask)(case, stored.path)))

        done = get_or_build(folder, "facts.json", run, run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "runtime facts", done.built))
        return json.loads(done.path.read_text())

    def paired_stats(self, base_pred: np.ndarray, q_pred: np.ndarray) -> PairedStats:
        """McNemar and the paired bootstrap of a build against its fp32 baseline on the test images, computed once
        per pair of prediction sets (2,000 resamples per model and per class are the costly part of a warm run)."""
        key = cache_key({"base": sha256_bytes(base_pred.astype("<i8").tobytes()),
                         "quantized": sha256_bytes(q_pred.astype("<i8").tobytes()), "test": self.inputs.test.sha256,
                         "versions": self.inputs.versions, "code": source_sha256(stats)})
        folder = self.settings.cache / "stats" / key[:24]

        def run(tmp: Path) -> None:
            tmp.write_text(json.dumps(asdict(stats.compare(self.inputs.test.labels, base_pred, q_pred))))

        done = get_or_build(folder, "paired.json", run, run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        data = json.loads(done.path.read_text())
        return PairedStats(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
