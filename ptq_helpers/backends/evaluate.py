"""Run a serialized model over images and score its predictions."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptq_helpers.matrix.cases import Case

BATCH = 1000


Runner = Callable[[np.ndarray], np.ndarray]


def make_runner(case: Case, path: Path, threads: int) -> Runner:
    """Load a serialized model once with its framework's runner; return `run(images NHWC float32) -> probabilities`."""
    return case.backend.runner()(case, path, threads)


def predict(case: Case, path: Path, images: np.ndarray, threads: int, batch: int = BATCH) -> np.ndarray:
    """Probabilities for all images, in batches."""
    run = make_runner(case, path, threads)
    return np.concatenate([run(images[i:i + batch]) for i in range(0, len(images), batch)])


@dataclass(frozen=True)
class Metrics:
    """Top-1 scores of one model on one labelled set."""

    correct: int
    total: int
    per_class_correct: tuple[int, ...]
    per_class_total: tuple[int, ...]

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy in percent."""
        return 100.0 * self.correct / self.total

    @property
    def per_class(self) -> tuple[float, ...]:
        """Per-class top-1 accuracy in percent."""
        return tuple(100.0 * c / t for c, t in zip(self.per_class_correct, self.per_class_total))


def score(predictions: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> Metrics:
    """Top-1 metrics from predicted class ids."""
    hit = predictions == labels
    per_correct = np.bincount(labels[hit], minlength=num_classes)
    per_total = np.bincount(labels, minlength=num_classes)
    return Metrics(int(hit.sum()), int(len(labels)), tuple(map(int, per_correct)), tuple(map(int, per_total)))
