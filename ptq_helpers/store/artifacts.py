"""The run's model files: each case's build (calibrated on a draw), built at most once per cache key."""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ptq_helpers.core.artifacts import Stored, cache_key, get_or_build, source_sha256
from ptq_helpers.core.errors import UnsupportedQuantization
from ptq_helpers.core.progress import say
from ptq_helpers.data import calibration
from ptq_helpers.data.contract import model_files
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.results.run_results import BuildEvent
from ptq_helpers.store.inputs import Inputs


@dataclass
class Artifacts:
    """Builds (or finds) a case's model file from the run's inputs."""

    inputs: Inputs
    on_event: Callable[[BuildEvent], None]

    @property
    def settings(self) -> Settings:
        return self.inputs.settings

    def builder_code(self, case: Case) -> str:
        """Hash of the case's builder modules: a change to them invalidates that framework's built models."""
        return source_sha256(*(importlib.import_module(n) for n in case.backend.code_modules))

    def _artifact_key(self, case: Case, draw: int) -> str:
        parts = {
            "case": case.spec(),
            "source": self.inputs.source_of(case)[1],
            "train": self.inputs.train.sha256,
            "calibration": (calibration.indices_sha256(self.inputs.calibration_draw(draw)) if draw
                            else self.inputs.calibration_sha256),
            "versions": self.inputs.versions,
            "code": self.builder_code(case),
        }
        if not self.settings.contract.is_reference:  # how the calibration images are fed (keys unchanged otherwise)
            parts.update(contract=self.settings.contract.key())
        if case.needs_validation:
            parts.update(validation=calibration.indices_sha256(self.inputs.validation_draw(draw)))
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
            held_out = self.inputs.validation_draw(draw)
            inputs["validation"] = (self.inputs.train.images(held_out), self.inputs.train.labels[held_out])
        return inputs

    def artifact(self, case: Case, draw: int = 0) -> Stored:
        """The serialized model of a case (calibrated on the given draw), built at most once per cache key."""
        if case.unsupported:
            raise UnsupportedQuantization(f"{case.id}: {case.unsupported}")
        fp32_builder = case.backend.fp32_builder() if case.is_fp32 else None
        if case.is_fp32 and fp32_builder is None:  # the source file itself
            size = sum(f.stat().st_size for f in model_files(self.inputs.source, self.settings.cache))
            return Stored(self.inputs.source, self.inputs.source_sha256, size, built=False)
        key = self._artifact_key(case, draw)
        folder = self.settings.cache / "artifacts" / f"{case.id}-{key[:16]}"

        def build(tmp: Path) -> None:
            source, started = self.inputs.source_of(case)[0], time.perf_counter()
            say(f"{case.id}: building{f' (calibration draw {draw})' if draw else ''} ...")
            if fp32_builder is not None:
                fp32_builder(source, tmp)
            else:
                images = self.inputs.train.images(self.inputs.calibration_draw(draw))
                case.backend.builder()(case, source, images, tmp, **self._build_inputs(case, draw))
            say(f"{case.id}: built in {time.perf_counter() - started:.0f} s")

        stored = get_or_build(folder, f"model.{cases.FORMATS[case.fmt].suffix}", build,
                              run_id=self.settings.run_id, rebuild=self.settings.rebuild)
        self.on_event(BuildEvent(case.id, "model" + (f" (draw {draw})" if draw else ""), stored.built))
        return stored
