"""The run's prediction sets: a build's test-set probabilities on a target (the target evaluates it), computed at
most once per cache key, and what each target evaluation saw."""
from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptq_helpers.core.artifacts import Stored, cache_key, cached, get_or_build, source_sha256
from ptq_helpers.core.fileio import atomic_write_bytes
from ptq_helpers.core.runtime import available_cores
from ptq_helpers.data.input_contract import InputContract
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.results.run_results import BuildEvent
from ptq_helpers.store.artifacts import Artifacts
from ptq_helpers.store.inputs import Inputs
from ptq_helpers.targets.base import Request, Target
from ptq_helpers.targets.host import HOST


@dataclass
class Predictions:
    """Asks a target to evaluate a build on the test images, and caches the answer."""

    inputs: Inputs
    artifacts: Artifacts
    on_event: Callable[[BuildEvent], None]
    on_target_facts: Callable[[str, dict[str, object]], None]
    notes: dict[str, dict[str, object] | None] = field(default_factory=dict)  # how each target evaluation went

    @property
    def settings(self) -> Settings:
        return self.inputs.settings

    def runner_code(self, case: Case, target: Target) -> str:
        """Hash of everything that turns a model file into predictions on a target: the generic evaluation,
        the framework's runner modules and the target's modules (a change to any of them re-evaluates)."""
        modules = ("ptq_helpers.backends.evaluate", *case.backend.runner_modules, *target.code_modules)
        return source_sha256(*(importlib.import_module(n) for n in dict.fromkeys(modules)))

    def folder(self, case: Case, target: Target, stored: Stored, name: str | None = None,
               threads: int | None = None, contract: InputContract | None = None) -> Path:
        """Where a prediction set lives: keyed by the model, the case, the test images, the runner's code and
        thread count, the library versions and (off the host) the target and how it is reached."""
        parts = {"model": stored.sha256, "case": case.spec(), "test": self.inputs.test.sha256,
                 "threads": threads or self.settings.threads, "versions": self.inputs.versions,
                 "code": self.runner_code(case, target)}
        contract = contract or self.settings.contract
        if not contract.is_reference:  # how the test images are fed and the outputs read
            parts.update(contract=contract.key())
        parts.update(target.key(case))
        key = cache_key(parts)
        name = (name or case.id) if target.is_host else f"{name or case.id}@{target.name}"
        return self.settings.cache / "predictions" / f"{name}-{key[:16]}"

    def cached(self, case: Case, stored: Stored) -> np.ndarray | None:
        """The host probabilities of a built model when a gate run already evaluated it, with this run's thread
        count or any other (`pytest -n auto` gates with fewer threads than `--benchmark-only` times); never
        evaluates."""
        for threads in dict.fromkeys((self.settings.threads, *range(1, available_cores() + 1))):
            found = cached(self.folder(case, HOST, stored, threads=threads), "probs.npy")
            if found:
                return np.load(found.path)
        return None

    def of(self, case: Case, target: Target, stored: Stored, draw: int = 0, name: str | None = None,
           contract: InputContract | None = None) -> Stored:
        """The case's test-set probabilities on a target, computed at most once per cache key; fed in the run's
        input contract, or in `contract` (a reference file's own)."""
        contract = contract or self.settings.contract
        folder = self.folder(case, target, stored, name, contract=contract)
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
            self.notes[f"{label}@{draw}"] = target.note(facts)
        return preds

    def _request(self, case: Case, target: Target, stored: Stored, draw: int, name: str | None,
                 contract: InputContract, work: Path) -> Request:
        """What a target is handed to evaluate a build: the test data in the input contract, and the host's
        predictions of the build and of its fp32 baseline (for a target that guards itself against them)."""
        label = (name or case.id) if target.is_host else f"{name or case.id}@{target.name}"

        def baseline() -> tuple[Case, Path, np.ndarray]:
            fp32 = cases.get(case.baseline_id)
            fp32_stored = self.artifacts.artifact(fp32)
            return fp32, fp32_stored.path, np.load(self.of(fp32, HOST, fp32_stored, 0).path)

        return Request(case, stored.path, label, f" (draw {draw})" if draw else "", self.inputs.test.labels,
                       self.settings.threads, self.settings.cache, work,
                       images=lambda: self.inputs.test.in_contract(contract).images(),
                       images_npy=lambda: self.inputs.test_images_npy(contract), probabilities=contract.probabilities,
                       host_probs=lambda: np.load(self.of(case, HOST, stored, draw, name).path),
                       baseline=baseline)
