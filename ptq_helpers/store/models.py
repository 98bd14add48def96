"""One run's models and their evaluations, each built or loaded once per process, cached on disk (the inputs they
start from: inputs.py; the measurements beside them: side.py)."""
from __future__ import annotations

import importlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import numpy as np

from ptq_helpers.backends import evaluate
from ptq_helpers.data import calibration
from ptq_helpers.matrix import cases
from ptq_helpers.core.artifacts import Stored, cache_key, cached, get_or_build, source_sha256
from ptq_helpers.matrix.cases import Case
from ptq_helpers.data.contract import model_files
from ptq_helpers.data.input_contract import InputContract
from ptq_helpers.core.errors import UnsupportedQuantization
from ptq_helpers.core.fileio import atomic_write_bytes, sha256_bytes
from ptq_helpers.results.record import ModelRecord, TargetAgreement
from ptq_helpers.results.run_results import BuildEvent
from ptq_helpers.core.progress import say
from ptq_helpers.core.runtime import available_cores
from ptq_helpers.targets.base import Request, Target
from ptq_helpers.targets.host import HOST
from ptq_helpers.store.inputs import Inputs
from ptq_helpers.store.side import SideMeasurements


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


@dataclass
class Store(Inputs, SideMeasurements):
    """Lazily builds what a test asks for; build-once across processes comes from the disk cache."""

    on_event: Callable[[BuildEvent], None] = lambda event: None
    on_target_facts: Callable[[str, dict[str, object]], None] = lambda target, facts: None
    _results: dict[str, ModelResult] = field(default_factory=dict)
    _emulated: dict[str, dict[str, object] | None] = field(default_factory=dict)  # how each target evaluation went

    def builder_code(self, case: Case) -> str:
        """Hash of the case's builder modules: a change to them invalidates that framework's built models."""
        return source_sha256(*(importlib.import_module(n) for n in case.backend.code_modules))

    def runner_code(self, case: Case, target: Target) -> str:
        """Hash of everything that turns a model file into predictions on a target: the generic evaluation,
        the framework's runner modules and the target's modules (a change to any of them re-evaluates)."""
        modules = ("ptq_helpers.backends.evaluate", *case.backend.runner_modules, *target.code_modules)
        return source_sha256(*(importlib.import_module(n) for n in dict.fromkeys(modules)))

    def _artifact_key(self, case: Case, draw: int) -> str:
        parts = {
            "case": case.spec(),
            "source": self.source_of(case)[1],
            "train": self.train.sha256,
            "calibration": calibration.indices_sha256(self.calibration_draw(draw)) if draw else self.calibration_sha256,
            "versions": self.versions,
            "code": self.builder_code(case),
        }
        if not self.settings.contract.is_reference:  # how the calibration images are fed (keys unchanged otherwise)
            parts.update(contract=self.settings.contract.key())
        if case.needs_validation:
            parts.update(validation=calibration.indices_sha256(self.validation_draw(draw)))
        if case.backend.options and not case.is_fp32:  # what its quantizing builder is given
            parts.update(options=self.backend_options(case))
        return cache_key(parts)

    def backend_options(self, case: Case) -> dict[str, object]:
        """The run's values of the options the case's framework declares, by dest (its builder's keywords)."""
        return {opt.dest: self.settings.backend.get(opt.dest, opt.default) for opt in case.backend.options}

    def _build_inputs(self, case: Case, draw: int) -> dict[str, object]:
        """Keyword inputs beyond the calibration images: the framework's options and, for builders that
        validate, held-out training images with their labels."""
        inputs: dict[str, object] = self.backend_options(case)
        if case.needs_validation:
            held_out = self.validation_draw(draw)
            inputs["validation"] = (self.images(self.train, held_out), self.train.labels[held_out])
        return inputs

    def artifact(self, case: Case, draw: int = 0) -> Stored:
        """The serialized model of a case (calibrated on the given draw), built at most once per cache key."""
        if case.unsupported:
            raise UnsupportedQuantization(f"{case.id}: {case.unsupported}")
        fp32_builder = case.backend.fp32_builder() if case.is_fp32 else None
        if case.is_fp32 and fp32_builder is None:  # the source file itself
            size = sum(f.stat().st_size for f in model_files(self.source, self.settings.cache))
            return Stored(self.source, self.source_sha256, size, built=False)
        key = self._artifact_key(case, draw)
        folder = self.settings.cache / "artifacts" / f"{case.id}-{key[:16]}"

        def build(tmp: Path) -> None:
            source, started = self.source_of(case)[0], time.perf_counter()
            say(f"{case.id}: building{f' (calibration draw {draw})' if draw else ''} ...")
            if fp32_builder is not None:
                fp32_builder(source, tmp)
            else:
                case.backend.builder()(case, source, self.images(self.train, self.calibration_draw(draw)), tmp,
                                       **self._build_inputs(case, draw))
            say(f"{case.id}: built in {time.perf_counter() - started:.0f} s")

        stored = get_or_build(folder, f"model.{cases.FORMATS[case.fmt].suffix}", build,
                              run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "model" + (f" (draw {draw})" if draw else ""), stored.built))
        return stored

    def _prediction_folder(self, case: Case, target: Target, stored: Stored, name: str | None = None,
                           threads: int | None = None, contract: InputContract | None = None) -> Path:
        """Where a prediction set lives: keyed by the model, the case, the test images, the runner's code and
        thread count, the library versions and (off the host) the target and how it is reached."""
        parts = {"model": stored.sha256, "case": case.spec(), "test": self.test.sha256,
                 "threads": threads or self.settings.threads, "versions": self.versions,
                 "code": self.runner_code(case, target)}
        contract = contract or self.settings.contract
        if not contract.is_reference:  # how the test images are fed and the outputs read
            parts.update(contract=contract.key())
        parts.update(target.key(case))
        key = cache_key(parts)
        name = (name or case.id) if target.is_host else f"{name or case.id}@{target.name}"
        return self.settings.cache / "predictions" / f"{name}-{key[:16]}"

    def cached_predictions(self, case: Case, stored: Stored) -> np.ndarray | None:
        """The host probabilities of a built model when a gate run already evaluated it, with this run's thread
        count or any other (`pytest -n auto` gates with fewer threads than `--benchmark-only` times); never
        evaluates."""
        for threads in dict.fromkeys((self.settings.threads, *range(1, available_cores() + 1))):
            found = cached(self._prediction_folder(case, HOST, stored, threads=threads), "probs.npy")
            if found:
                return np.load(found.path)
        return None

    def _predictions(self, case: Case, target: Target, stored: Stored, draw: int, name: str | None = None,
                     contract: InputContract | None = None) -> Stored:
        """The case's test-set probabilities on a target, computed at most once per cache key; fed in the run's
        input contract, or in `contract` (a reference file's own)."""
        contract = contract or self.settings.contract
        folder = self._prediction_folder(case, target, stored, name, contract=contract)
        label = (name or case.id) if target.is_host else f"{name or case.id}@{target.name}"

        def run(tmp: Path) -> None:
            with tempfile.TemporaryDirectory(prefix="ptq-target-") as work:
                probs, facts = target.evaluate(self._request(case, target, stored, draw, name, contract, Path(work)))
            if facts is not None:
                atomic_write_bytes(folder / "facts.json", json.dumps(facts).encode())
            with open(tmp, "wb") as fh:
                np.save(fh, probs.astype(np.float32))

        preds = get_or_build(folder, "probs.npy", run, run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(label, "predictions" + (f" (draw {draw})" if draw else ""), preds.built))
        if (folder / "facts.json").is_file():
            facts = json.loads((folder / "facts.json").read_text())
            self.on_target_facts(target.name, facts)
            self._emulated[f"{label}@{draw}"] = target.note(facts)
        return preds

    def _request(self, case: Case, target: Target, stored: Stored, draw: int, name: str | None,
                 contract: InputContract, work: Path) -> Request:
        """What a target is handed to evaluate a build: the test data in the input contract, and the host's
        predictions of the build and of its fp32 baseline (for a target that guards itself against them)."""
        label = (name or case.id) if target.is_host else f"{name or case.id}@{target.name}"

        def baseline() -> tuple[Case, Path, np.ndarray]:
            fp32 = cases.get(case.baseline_id)
            fp32_stored = self.artifact(fp32)
            return fp32, fp32_stored.path, np.load(self._predictions(fp32, HOST, fp32_stored, 0).path)

        return Request(case, stored.path, label, f" (draw {draw})" if draw else "", self.test.labels,
                       self.settings.threads, self.settings.cache, work,
                       images=lambda: contract.prepare(self.test.pixels),
                       images_npy=lambda: self.test_images_npy(contract), probabilities=contract.probabilities,
                       host_probs=lambda: np.load(self._predictions(case, HOST, stored, draw, name).path),
                       baseline=baseline)

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
            probs = np.load(self._predictions(case, target, stored, draw).path)
        metrics = evaluate.score(probs.argmax(1), self.test.labels)
        base_target = target.baseline or target  # e.g. Arm: the probe-validated host fp32
        base = None if case.is_fp32 or draw else self.result(cases.get(case.baseline_id), target=base_target,
                                                             cached_only=cached_only)
        if base is None and not case.is_fp32 and not draw:  # cached_only, and the baseline was never evaluated
            return None
        host = None if target.is_host or draw else self.result(case)
        record = ModelRecord(
            id=case.id, framework=case.framework, dtype=case.dtype, format=case.fmt, baseline_id=case.baseline_id,
            correct=metrics.correct, total=metrics.total, accuracy=round(metrics.accuracy, 4),
            per_class=tuple(round(v, 4) for v in metrics.per_class), size_bytes=stored.size, sha256=stored.sha256,
            predictions_sha256=sha256_bytes(probs.argmax(1).astype("<i8").tobytes()), quant=case.spec()["quant"],
            hits=np.packbits(probs.argmax(1) == self.test.labels).tobytes().hex(),
            stats=self.paired_stats(base.predictions, probs.argmax(1)) if base else None,
            target=target.name, runtime=self._runtime_facts(case, stored) if target.is_host and not draw else
            self._emulated.get(f"{case.id}@{target.name}@{draw}"),
            vs_host=TargetAgreement.of(host.predictions, probs.argmax(1), self.test.labels) if host else None,
            framework_label=case.backend.label, dtype_label=cases.DTYPE_LABELS.get(case.dtype, case.dtype),
            format_label=cases.FORMATS[case.fmt].label,
            size_kind=getattr(getattr(case.backend, "size_kind", None), "name", None) or case.backend.size_threshold,
            framework_tools=case.backend.tools, target_description=target.here(), cpu=target.cpu_label(case),
            baseline_target=base_target.name if base is not None and base_target is not target else "",
            base=base.record if base else None)
        result = ModelResult(case, stored, probs, metrics, record, target)
        self._results[memo] = result
        return result
