"""Run a serialized model over images and score its predictions."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptq_helpers.matrix.cases import Case, TorchQuant

BATCH = 1000


Runner = Callable[[np.ndarray], np.ndarray]


def ort_session(path: Path, threads: int):
    """An ONNX Runtime CPU session with a fixed intra-op thread count."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def load_torchscript(path: Path):
    import torch

    from ptq_helpers.backends.pytorch import quiet_torch

    with quiet_torch():
        module = torch.jit.load(str(path), map_location="cpu")
    module.eval()
    return module


def compiled_pt2e(path: Path):
    """Load a PT2E int8 program and lower it with Inductor (freezing, oneDNN int8 kernels)."""
    import torch
    import torch._inductor.config as inductor_config

    # Importing the quantizer registers the int8 fusion passes Inductor needs to lower Q/DQ patterns.
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer  # noqa: F401

    inductor_config.freezing = True
    return torch.compile(torch.export.load(str(path)).module())


def ort_runner(case: Case, path: Path, threads: int) -> Runner:
    """An ONNX Runtime session as `run(images)`."""
    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def torch_runner(case: Case, path: Path, threads: int) -> Runner:
    """A TorchScript module, or a PT2E program compiled with Inductor, as `run(images)`.

    torch's thread count is process-wide: set here, before the model runs, to the run's threads per process.
    """
    import torch

    torch.set_num_threads(threads)

    # The quantized engine is process-global and changes the numbers (loading repacks the weights
    # for the current engine; fbgemm vs x86 differ in top-1 on this model), so loading and every
    # call use the engine the model was quantized for.
    engine = case.quant.engine if isinstance(case.quant, TorchQuant) else None
    if engine is not None:
        torch.backends.quantized.engine = engine
    if isinstance(case.quant, TorchQuant) and case.quant.flow == "pt2e":
        module = compiled_pt2e(path)  # the deployed form: gated and benchmarked compiled, never the reference
    else:
        module = load_torchscript(path)

    def run(x: np.ndarray) -> np.ndarray:
        if engine is not None:
            torch.backends.quantized.engine = engine
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return run


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
