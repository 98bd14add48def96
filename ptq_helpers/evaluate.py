"""Run a serialized model over images and score its predictions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

BATCH = 1000


def ort_session(path: Path, threads: int):
    """An ONNX Runtime CPU session with a fixed intra-op thread count."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def predict_onnx(path: Path, images: np.ndarray, threads: int, batch: int = BATCH) -> np.ndarray:
    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: images[i:i + batch]})[0] for i in range(0, len(images), batch)])


def load_torchscript(path: Path):
    import torch

    from ptq_helpers.quantize_torch import quiet_torch

    with quiet_torch():
        module = torch.jit.load(str(path), map_location="cpu")
    module.eval()
    return module


def predict_torchscript(path: Path, images: np.ndarray, threads: int, batch: int = BATCH) -> np.ndarray:
    import torch

    del threads  # torch's thread count is process-wide: set once by the ptq_store fixture
    module = load_torchscript(path)
    with torch.inference_mode():
        outs = [module(torch.from_numpy(images[i:i + batch])).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(outs)


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
