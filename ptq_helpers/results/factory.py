"""The one place a `ModelRecord` is made from what a run measured: the case (its registry entry's labels), the
predictions on the test images, the model file and the facts beside them."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ptq_helpers.core.fileio import sha256_bytes
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case
from ptq_helpers.results.record import ModelRecord, PairedStats, TargetAgreement, encode_classes


class Scores(Protocol):
    """Top-1 scores of the predictions (backends.evaluate.Metrics)."""

    correct: int
    total: int

    @property
    def accuracy(self) -> float: ...

    @property
    def per_class(self) -> Sequence[float]: ...


def model_record(case: Case, target: str, predictions: np.ndarray, labels: np.ndarray, scores: Scores,
                 size_bytes: int, sha256: str, *, stats: PairedStats | None, runtime: Mapping[str, Any] | None,
                 vs_host: np.ndarray | None, target_description: str, cpu: str, baseline_target: str,
                 base: ModelRecord | None) -> ModelRecord:
    """The record of one build on one target (`predictions`: top-1 per test image; `vs_host`: the same build's
    top-1 on the host, for a record off it)."""
    return ModelRecord(
        id=case.id, framework=case.framework, dtype=case.dtype, format=case.fmt, baseline_id=case.baseline_id,
        correct=scores.correct, total=scores.total, accuracy=round(scores.accuracy, 4),
        per_class=tuple(round(v, 4) for v in scores.per_class), size_bytes=size_bytes, sha256=sha256,
        predictions_sha256=sha256_bytes(predictions.astype("<i8").tobytes()), quant=case.spec()["quant"],
        hits=np.packbits(predictions == labels).tobytes().hex(), predictions=encode_classes(predictions),
        stats=stats, target=target, runtime=runtime,
        vs_host=TargetAgreement.of(vs_host, predictions, labels) if vs_host is not None else None,
        framework_label=case.backend.label, dtype_label=cases.DTYPE_LABELS.get(case.dtype, case.dtype),
        format_label=cases.FORMATS[case.fmt].label, size_kind=case.backend.size_kind.name,
        framework_tools=case.backend.tools, target_description=target_description, cpu=cpu,
        baseline_target=baseline_target, base=base)
