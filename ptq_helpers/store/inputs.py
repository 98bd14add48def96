"""The run's inputs, read and verified once per process: the CIFAR-10 splits, the calibration and validation draws,
the fp32 source model and the library versions (what every cache key is built from)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ptq_helpers.core.artifacts import cache_key, get_or_build, source_sha256
from ptq_helpers.core.fileio import sha256_file
from ptq_helpers.core.runtime import versions
from ptq_helpers.data import calibration, cifar
from ptq_helpers.core.errors import AssetError
from ptq_helpers.data.contract import model_sha256, read_contract
from ptq_helpers.data.input_contract import InputContract
from ptq_helpers.data.model_inputs import ModelSplit
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.targets import registry as targets


def library_versions() -> dict[str, str]:
    """Versions of every library a result of this run can depend on: the suite's own, every registered
    framework's and every target's (part of every cache key, and of the JSON's meta)."""
    return versions((*cases.libraries(), *(lib for t in targets.TARGETS.values() for lib in t.libraries)))


@dataclass
class Inputs:
    """What a run's builds and evaluations start from (lazily, each at most once per process)."""

    settings: Settings

    @cached_property
    def cifar_dir(self) -> Path:
        return self.settings.assets.cifar_dir()

    @cached_property
    def test(self) -> ModelSplit:
        """The 10,000 test images, fed through the run's input contract (the only way to get them)."""
        return ModelSplit(self.settings.contract, cifar.load_split_cached(
            self.cifar_dir, "test", self.settings.cache / "data", run_id=self.settings.run_id))

    @cached_property
    def train(self) -> ModelSplit:
        """The 50,000 training images (calibration and validation draws), fed through the run's input contract."""
        return ModelSplit(self.settings.contract, cifar.load_split_cached(
            self.cifar_dir, "train", self.settings.cache / "data", run_id=self.settings.run_id))

    @cached_property
    def calibration_indices(self) -> np.ndarray:
        """Indices into the TRAINING split."""
        return calibration.draw_indices(self.train.labels, self.settings.per_class, self.settings.seed)

    @cached_property
    def calibration_sha256(self) -> str:
        return calibration.indices_sha256(self.calibration_indices)

    @cached_property
    def source(self) -> Path:
        """The fp32 ONNX file, checked to have the contract the run feeds it (the reference model's is read
        here, not when the run is configured)."""
        path = self.settings.assets.onnx_model()
        found = read_contract(path, self.settings.assets.contract, self.settings.cache)
        if found.key() != self.settings.contract.key():
            raise AssetError(f"{path}: its input contract is {found.describe()}, but the run was configured for "
                             f"{self.settings.contract.describe()}; replace it with resnet8.onnx, or pass it with "
                             f"--ptq-model")
        return path

    @cached_property
    def source_sha256(self) -> str:
        """The fp32 model with its external data (a changed weights file is a different model)."""
        return model_sha256(self.source, self.settings.cache)

    @cached_property
    def versions(self) -> dict[str, str]:
        return library_versions()

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
    def h5(self) -> Path:
        return self.settings.assets.h5_model()

    def source_of(self, case: Case) -> tuple[Path, str]:
        """The fp32 model the case's builders start from, and its sha256: the Keras .h5 (LiteRT), the user's
        torch.export program when the model was given as one (PyTorch-based builds quantize it directly), else
        the ONNX file."""
        pt2 = self.settings.assets.pt2
        if case.source == "h5":  # LiteRT: TFLiteConverter from the .h5; litert-torch from a program otherwise
            if self.settings.assets.model is None or self.settings.assets.model.suffix == ".h5":
                return self.h5, sha256_file(self.h5)
            return self.torch_program, sha256_file(self.torch_program)
        if case.source == "torch" and pt2 is not None:
            return pt2, sha256_file(pt2)
        return self.source, self.source_sha256

    def _source_suffix(self, case: Case) -> str:
        """The kind of file source_of(case) gives, without making it (a program from an ONNX file is built)."""
        keras = self.settings.assets.model is None or self.settings.assets.model.suffix == ".h5"
        if case.source == "h5":
            return ".h5" if keras else ".pt2"
        return ".pt2" if case.source == "torch" and self.settings.assets.pt2 is not None else ".onnx"

    def unavailable(self, case: Case) -> str | None:
        """Why the case cannot be built here (its framework's extra is missing, or what it needs to start from
        this kind of source is not prepared: Framework.unready), or None."""
        missing = case.backend.missing()
        unready = case.backend.unready
        if missing or not unready:
            return missing
        return cases.resolve(unready)(Path(f"source{self._source_suffix(case)}"))  # unready reads the suffix

    @cached_property
    def torch_program(self) -> Path:
        """The fp32 model as a torch.export program, for converters that take one (LiteRT through litert-torch):
        the user's .pt2, or one exported from the ONNX file (onnx2torch; checked to agree with ONNX Runtime on the
        10,000 test images in the model's contract), cached by content."""
        if self.settings.assets.pt2 is not None:
            return self.settings.assets.pt2
        from ptq_helpers import backends

        exporter = backends.PROGRAM_EXPORTER
        key = cache_key({"source": self.source_sha256, "test": self.test.sha256,
                         "contract": self.settings.contract.key(), "code": source_sha256(exporter.module()),
                         "versions": versions(exporter.libraries)})
        folder = self.settings.cache / "programs" / f"onnx-{key[:16]}"
        return get_or_build(folder, "model.pt2", lambda tmp: exporter.export(
            self.source, tmp, self.test.images()), run_id=self.settings.run_id).path

    def validation_draw(self, draw: int) -> np.ndarray:
        """Held-out training images for builders that validate (disjoint from the draw-th calibration set)."""
        return calibration.validation_indices(self.train.labels, self.calibration_draw(draw), seed=self.settings.seed)

    def test_images_npy(self, contract: InputContract | None = None) -> Path:
        """The test images as one float32 .npy in the model's input contract (or `contract`), memory-mapped by the
        evaluation children of a target."""
        contract = contract or self.settings.contract
        name = self.test.sha256[:16] if contract.is_reference else cache_key(
            {"test": self.test.sha256, "contract": contract.key()})[:16]
        folder = self.settings.cache / "data" / f"test-images-{name}"

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, self.test.in_contract(contract).images())

        return get_or_build(folder, "images.npy", write, run_id=self.settings.run_id).path
