"""Hand-made result records for tests of the summary, report and plugin (no models needed)."""
from __future__ import annotations

from typing import Any

from ptq_helpers import cases


def record(case_id: str, correct: int, size: int, per_class: list[float] | None = None) -> dict[str, Any]:
    """A record shaped like results.record, for the matrix case `case_id`."""
    case = cases.get(case_id)
    return {"id": case.id, "framework": case.framework, "dtype": case.dtype, "format": case.fmt,
            "baseline_id": case.baseline_id, "correct": correct, "total": 10_000, "accuracy": correct / 100,
            "per_class": per_class if per_class is not None else [correct / 100] * 10,
            "size_bytes": size, "sha256": case_id.ljust(64, "0"), "predictions_sha256": case_id.ljust(64, "1"),
            "quant": case.spec()["quant"]}


def seed_records() -> dict[str, dict[str, Any]]:
    """Records with this project's seed-model shape: two fp32 baselines, three quantized models."""
    base = [88.0, 95.0, 84.0, 73.0, 87.0, 74.0, 95.0, 90.0, 92.0, 93.0]
    return {r["id"]: r for r in (
        record("ort-fp32", 8719, 321_574, base),
        record("torch-fp32", 8719, 413_000, base),
        record("ort-int8-qdq", 8612, 125_431, [87.0, 95.0, 84.0, 73.0, 87.0, 69.0, 95.0, 90.0, 92.0, 93.0]),
        record("ort-uint8-qdq", 8637, 125_221, [89.0, 95.0, 83.0, 72.0, 86.0, 71.0, 94.0, 91.0, 93.0, 92.0]),
        record("torch-int8-fx", 8592, 172_000, [87.0, 95.0, 81.0, 69.0, 86.0, 73.0, 95.0, 88.0, 93.0, 93.0]),
    )}
