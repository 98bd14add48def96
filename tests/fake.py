"""Hand-made result records for tests of the summary, report and plugin (no models needed)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ptq_helpers.matrix import cases
from ptq_helpers.results.record import ModelRecord, linked
from ptq_helpers.results.run_results import RunResults


def record(case_id: str, correct: int, size: int, per_class: list[float] | None = None) -> ModelRecord:
    """A record for the matrix case `case_id` (not yet linked to its baseline)."""
    case = cases.get(case_id)
    return ModelRecord(id=case.id, framework=case.framework, dtype=case.dtype, format=case.fmt,
                       baseline_id=case.baseline_id, correct=correct, total=10_000, accuracy=correct / 100,
                       per_class=tuple(per_class if per_class is not None else [correct / 100] * 10),
                       size_bytes=size, sha256=case_id.ljust(64, "0"), predictions_sha256=case_id.ljust(64, "1"),
                       quant=case.spec()["quant"])


def changed(records: Mapping[str, ModelRecord], case_id: str, **fields: Any) -> dict[str, ModelRecord]:
    """The records with one of them altered, relinked so derived facts follow."""
    return linked(replace(r, **fields) if r.id == case_id else r for r in records.values())


def seed_records() -> dict[str, ModelRecord]:
    """Records with this project's seed-model shape: two fp32 baselines, three quantized models."""
    base = [88.0, 95.0, 84.0, 73.0, 87.0, 74.0, 95.0, 90.0, 92.0, 93.0]
    return linked((
        record("ort-fp32", 8719, 321_574, base),
        record("torch-fp32", 8719, 413_000, base),
        record("ort-int8-qdq", 8612, 125_431, [87.0, 95.0, 84.0, 73.0, 87.0, 69.0, 95.0, 90.0, 92.0, 93.0]),
        record("ort-uint8-qdq", 8637, 125_221, [89.0, 95.0, 83.0, 72.0, 86.0, 71.0, 94.0, 91.0, 93.0, 92.0]),
        record("torch-int8-fx", 8592, 172_000, [87.0, 95.0, 81.0, 69.0, 86.0, 73.0, 95.0, 88.0, 93.0, 93.0]),
    ))


def run_results(records: Mapping[str, ModelRecord], bench: Mapping[str, Any] | None = None) -> RunResults:
    return RunResults(records=dict(records), bench=dict(bench or {}))
