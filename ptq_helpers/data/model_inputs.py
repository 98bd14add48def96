"""The one way a model gets images: a CIFAR-10 split seen through the model's input contract.

`ModelSplit` is what tests, fixtures, builders (calibration, validation), the size search, diagnosis, benchmarks
and paired timing receive. It has no accessor for the raw pixels: `images()` always applies the contract, so a
PyTorch-style model (NCHW, normalized) is never fed the Keras model's NHWC pixels 0..255 by mistake. A reader that
needs another contract (the MLPerf reference .tflite is fed in its own Keras contract) asks for a view in that
contract with `in_contract`, never for the pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ptq_helpers.data.cifar import Split
from ptq_helpers.data.input_contract import InputContract


@dataclass(frozen=True)
class ModelSplit:
    """A verified CIFAR-10 split (labels, content hash) whose images come out as `contract` feeds the model."""

    contract: InputContract
    _split: Split = field(repr=False)

    @property
    def name(self) -> str:
        return self._split.name

    @property
    def labels(self) -> np.ndarray:
        return self._split.labels

    @property
    def sha256(self) -> str:
        """Of the stored pixels (the same whatever the contract: keys add the contract where it matters)."""
        return self._split.sha256

    def __len__(self) -> int:
        return len(self._split)

    def images(self, index: np.ndarray | slice | None = None) -> np.ndarray:
        """float32 images (all, or `index`) exactly as the model takes them: scaled, normalized, in its layout."""
        raw = self._split.raw_pixels
        return self.contract.prepare(raw if index is None else raw[index])

    def in_contract(self, contract: InputContract) -> ModelSplit:
        """The same images fed in another model's contract (a reference file with its own)."""
        return ModelSplit(contract, self._split)
