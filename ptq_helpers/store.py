"""One run's models and their evaluations, each built or loaded once per process, cached on disk."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ptq_helpers import calibration, cases, cifar, evaluate, quantize_ort, quantize_torch, stats
from ptq_helpers.artifacts import Stored, cache_key, get_or_build, source_sha256
from ptq_helpers.assets import Assets
from ptq_helpers.cases import Case
from ptq_helpers.contract import check_onnx
from ptq_helpers.errors import UnsupportedQuantization
from ptq_helpers.fileio import sha256_file
from ptq_helpers.runtime import versions


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured with (from options, ini and environment)."""

    assets: Assets
    cache: Path
    threads: int
    seed: int = calibration.DEFAULT_SEED
    per_class: int = calibration.DEFAULT_PER_CLASS
    rebuild: bool = False
    matrix: str = "seed"
    sweep_draws: int = 0  # calibration-draw sweep size; 0 = off
    run_id: str = "local"
    cache_note: str | None = None  # set when the requested cache was not writable


@dataclass(frozen=True)
class ModelResult:
    """A built model, its predictions on the 10,000 test images and their scores."""

    case: Case
    artifact: Stored
    probs: np.ndarray
    metrics: evaluate.Metrics
    evaluated: bool  # True when this process ran inference, False when predictions came from cache

    @property
    def predictions(self) -> np.ndarray:
        return self.probs.argmax(axis=1)


@dataclass
class Store:
    """Lazily builds what a test asks for; build-once across processes comes from the disk cache."""

    settings: Settings
    events: list[dict[str, object]] = field(default_factory=list)
    _results: dict[str, ModelResult] = field(default_factory=dict)
    _stats: dict[str, dict[str, float | int]] = field(default_factory=dict)

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

    def _artifact_key(self, case: Case, draw: int) -> str:
        return cache_key({
            "case": case.spec(),
            "source": self.source_sha256,
            "train": self.train.sha256,
            "calibration": calibration.indices_sha256(self.calibration_draw(draw)) if draw else self.calibration_sha256,
            "versions": self.versions,
            "code": source_sha256(quantize_ort, quantize_torch),
        })

    def artifact(self, case: Case, draw: int = 0) -> Stored:
        """The serialized model of a case (calibrated on the given draw), built at most once per cache key."""
        if case.unsupported:
            raise UnsupportedQuantization(f"{case.id}: {case.unsupported}")
        if case.framework == "onnxruntime" and case.is_fp32:  # the source file itself
            return Stored(self.source, self.source_sha256, self.source.stat().st_size, built=False)
        key = self._artifact_key(case, draw)
        suffix = {"onnx": "onnx", "qdq": "onnx", "qoperator": "onnx", "torchscript": "pt", "pt2": "pt2"}[case.fmt]
        folder = self.settings.cache / "artifacts" / f"{case.id}-{key[:16]}"

        def build(tmp: Path) -> None:
            calib = self.train.images(self.calibration_draw(draw))
            if case.framework == "onnxruntime":
                quantize_ort.quantize(case, self.source, calib, tmp)
            elif case.is_fp32:
                quantize_torch.build_fp32(self.source, tmp)
            else:
                quantize_torch.build_quantized(case, self.source, calib, tmp)

        stored = get_or_build(folder, f"model.{suffix}", build, run_id=self.settings.run_id,
                              rebuild=self.settings.rebuild)
        self.events.append({"case": case.id, "what": "model" + (f" (draw {draw})" if draw else ""),
                            "built": stored.built})
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
        self.events.append({"case": case.id, "what": "predictions" + (f" (draw {draw})" if draw else ""),
                            "built": preds.built})
        probs = np.load(preds.path)
        result = ModelResult(case, stored, probs, evaluate.score(probs.argmax(1), self.test.labels), preds.built)
        self._results[memo] = result
        return result

    def baseline(self, case: Case) -> ModelResult:
        """The fp32 result of the case's framework, from the same run and the same images."""
        return self.result(cases.get(case.baseline_id))

    def paired_stats(self, case: Case) -> dict[str, float | int]:
        """Agreement, McNemar p and bootstrap interval of the case against its fp32 baseline (memoized)."""
        if case.id not in self._stats:
            base, mine = self.baseline(case), self.result(case)
            self._stats[case.id] = stats.compare(self.test.labels, base.predictions, mine.predictions)
        return self._stats[case.id]
