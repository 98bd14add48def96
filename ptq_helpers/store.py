"""One run's models and their evaluations, each built or loaded once per process, cached on disk."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ptq_helpers import calibration, cases, cifar, evaluate, stats
from ptq_helpers.artifacts import Stored, cache_key, get_or_build, source_sha256
from ptq_helpers.cases import Case
from ptq_helpers.contract import check_onnx
from ptq_helpers.errors import UnsupportedQuantization
from ptq_helpers.fileio import sha256_bytes, sha256_file
from ptq_helpers.record import ModelRecord
from ptq_helpers.run_results import BuildEvent
from ptq_helpers.runtime import versions
from ptq_helpers.settings import Settings


@dataclass(frozen=True)
class ModelResult:
    """A built model, its predictions on the 10,000 test images and their scores."""

    case: Case
    artifact: Stored
    probs: np.ndarray
    metrics: evaluate.Metrics
    record: ModelRecord  # what the gates, summary, JSON and report see

    @property
    def predictions(self) -> np.ndarray:
        return self.probs.argmax(axis=1)


@dataclass
class Store:
    """Lazily builds what a test asks for; build-once across processes comes from the disk cache."""

    settings: Settings
    on_event: Callable[[BuildEvent], None] = lambda event: None
    _results: dict[str, ModelResult] = field(default_factory=dict)

    @cached_property
    def cifar_dir(self) -> Path:
        return self.settings.assets.cifar_dir()

    @cached_property
    def test(self) -> cifar.Split:
        return cifar.load_split(self.cifar_dir, "test")

    @cached_property
    def train(self) -> cifar.Split:
        return cifar.load_split(self.cifar_dir, "train")

    @cached_property
    def calibration_indices(self) -> np.ndarray:
        """Indices into the TRAINING split."""
        return calibration.draw_indices(self.train.labels, self.settings.per_class, self.settings.seed)

    @cached_property
    def calibration_sha256(self) -> str:
        return calibration.indices_sha256(self.calibration_indices)

    @cached_property
    def source(self) -> Path:
        path = self.settings.assets.onnx_model()
        check_onnx(path)
        return path

    @cached_property
    def source_sha256(self) -> str:
        return sha256_file(self.source)

    @cached_property
    def versions(self) -> dict[str, str]:
        return versions()

    def calibration_draw(self, draw: int) -> np.ndarray:
        """The draw-th calibration set of the seed's stream (0 is the default set)."""
        if draw == 0:
            return self.calibration_indices
        return calibration.draw_indices(self.train.labels, self.settings.per_class, self.settings.seed, draw)

    @cached_property
    def hashes(self) -> dict[str, str]:
        """Content hashes of the run's inputs (recorded in the JSON's meta)."""
        return {"source_sha256": self.source_sha256, "test_sha256": self.test.sha256,
                "train_sha256": self.train.sha256, "calibration_indices_sha256": self.calibration_sha256}

    @cached_property
    def builder_code(self) -> str:
        """Hash of every registered builder module: a change to any of them invalidates built models."""
        names = dict.fromkeys(m for fw in cases.FRAMEWORKS.values() for m in fw.code_modules)
        return source_sha256(*(importlib.import_module(n) for n in names))

    def _artifact_key(self, case: Case, draw: int) -> str:
        return cache_key({
            "case": case.spec(),
            "source": self.source_sha256,
            "train": self.train.sha256,
            "calibration": calibration.indices_sha256(self.calibration_draw(draw)) if draw else self.calibration_sha256,
            "versions": self.versions,
            "code": self.builder_code,
        })

    def artifact(self, case: Case, draw: int = 0) -> Stored:
        """The serialized model of a case (calibrated on the given draw), built at most once per cache key."""
        if case.unsupported:
            raise UnsupportedQuantization(f"{case.id}: {case.unsupported}")
        fp32_builder = case.backend.fp32_builder() if case.is_fp32 else None
        if case.is_fp32 and fp32_builder is None:  # the source file itself
            return Stored(self.source, self.source_sha256, self.source.stat().st_size, built=False)
        key = self._artifact_key(case, draw)
        folder = self.settings.cache / "artifacts" / f"{case.id}-{key[:16]}"

        def build(tmp: Path) -> None:
            if fp32_builder is not None:
                fp32_builder(self.source, tmp)
            else:
                case.backend.builder()(case, self.source, self.train.images(self.calibration_draw(draw)), tmp)

        stored = get_or_build(folder, f"model.{cases.FORMATS[case.fmt].suffix}", build,
                              run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "model" + (f" (draw {draw})" if draw else ""), stored.built))
        return stored

    def result(self, case: Case, draw: int = 0) -> ModelResult:
        """Build (or load) the case's model and score it on the full test split, once per process."""
        memo = f"{case.id}@{draw}"
        if memo in self._results:
            return self._results[memo]
        stored = self.artifact(case, draw)
        key = cache_key({"model": stored.sha256, "case": case.spec(), "test": self.test.sha256,
                         "threads": self.settings.threads, "versions": self.versions,
                         "code": source_sha256(evaluate)})
        folder = self.settings.cache / "predictions" / f"{case.id}-{key[:16]}"

        def run(tmp: Path) -> None:
            probs = evaluate.predict(case, stored.path, self.test.images(), self.settings.threads)
            with open(tmp, "wb") as fh:
                np.save(fh, probs.astype(np.float32))

        preds = get_or_build(folder, "probs.npy", run, run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "predictions" + (f" (draw {draw})" if draw else ""), preds.built))
        probs = np.load(preds.path)
        metrics = evaluate.score(probs.argmax(1), self.test.labels)
        base = None if case.is_fp32 or draw else self.result(cases.get(case.baseline_id))
        record = ModelRecord(
            id=case.id, framework=case.framework, dtype=case.dtype, format=case.fmt, baseline_id=case.baseline_id,
            correct=metrics.correct, total=metrics.total, accuracy=round(metrics.accuracy, 4),
            per_class=tuple(round(v, 4) for v in metrics.per_class), size_bytes=stored.size, sha256=stored.sha256,
            predictions_sha256=sha256_bytes(probs.argmax(1).astype("<i8").tobytes()), quant=case.spec()["quant"],
            stats=stats.compare(self.test.labels, base.predictions, probs.argmax(1)) if base else None,
            base=base.record if base else None)
        result = ModelResult(case, stored, probs, metrics, record)
        self._results[memo] = result
        return result
