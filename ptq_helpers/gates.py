"""The pass/fail rules, shared by the tests (which assert) and the summary and report (which show status).

Each gate takes a ModelRecord (quantized ones linked to their fp32 baseline) and returns None when
it passes, else a message naming the model, the measured value, the limit and the option.
"""
from __future__ import annotations

from collections.abc import Mapping

from ptq_helpers.cifar import CLASSES
from ptq_helpers.record import ModelRecord
from ptq_helpers.settings import Thresholds


def accuracy(rec: ModelRecord, th: Thresholds) -> str | None:
    if rec.accuracy > th.min_accuracy:
        return None
    return (f"{rec.id}: top-1 {rec.accuracy:.2f}% ({rec.correct}/{rec.total}) is not above "
            f"{th.min_accuracy:.2f}% (--ptq-min-accuracy)")


def drop(rec: ModelRecord, th: Thresholds) -> str | None:
    value, what = rec.drop, "top-1 drop"
    if th.drop_gate == "ci" and rec.stats is not None:
        value, what = -rec.stats.diff_ci_low, "upper 95% bound of the top-1 drop"
    if value < th.max_drop:
        return None
    return (f"{rec.id}: {what} {value:.2f} points vs {rec.base.id} ({rec.accuracy:.2f}% vs "
            f"{rec.base.accuracy:.2f}%) is not below {th.max_drop:.2f} (--ptq-max-drop, --ptq-drop-gate {th.drop_gate})")


def size_reduction(rec: ModelRecord, th: Thresholds) -> str | None:
    kind = rec.size_threshold
    limit = th.min_size_reduction(kind)
    if rec.size_reduction >= limit:
        return None
    return (f"{rec.id}: size reduction {rec.size_reduction:.1f}% ({rec.size_bytes:,} vs {rec.base.size_bytes:,} bytes "
            f"of {rec.base.id}) is below {limit:.1f}% (--ptq-min-size-reduction-{kind})")


def class_drop(rec: ModelRecord, th: Thresholds) -> str | None:
    worst = rec.worst_class
    if rec.class_drops[worst] <= th.max_class_drop:
        return None
    return (f"{rec.id}: class {CLASSES[worst]!r} drops {rec.class_drops[worst]:.1f} points vs {rec.base.id} "
            f"({rec.per_class[worst]:.1f}% vs {rec.base.per_class[worst]:.1f}%), more than "
            f"{th.max_class_drop:.1f} (--ptq-max-class-drop)")


def fp32_pinned(rec: ModelRecord, th: Thresholds) -> str | None:
    if rec.correct == th.fp32_correct:
        return None
    return (f"{rec.id}: {rec.correct}/{rec.total} correct, pinned fp32 baseline is "
            f"{th.fp32_correct}/{rec.total} (--ptq-fp32-correct)")


def all_failures(rec: ModelRecord, th: Thresholds) -> dict[str, str]:
    """Every gate that applies to a record and failed: gate name -> message (for summary and JSON)."""
    found = {"accuracy": accuracy(rec, th)}
    if rec.is_fp32:
        found["fp32-pin"] = fp32_pinned(rec, th)
    elif rec.compared:
        found.update({"drop": drop(rec, th), "size": size_reduction(rec, th), "class-drop": class_drop(rec, th)})
    return {name: msg for name, msg in found.items() if msg}


def passing(records: Mapping[str, ModelRecord], th: Thresholds) -> list[ModelRecord]:
    """Quantized records with their fp32 baseline at hand that pass every gate."""
    return [r for r in records.values() if r.compared and not all_failures(r, th)]


def best_by_framework(records: Mapping[str, ModelRecord], th: Thresholds) -> dict[str, ModelRecord]:
    """Per framework, the passing build with the highest top-1 (the smaller file on a tie)."""
    best: dict[str, ModelRecord] = {}
    for r in passing(records, th):
        if r.framework not in best or (r.accuracy, -r.size_bytes) > (
                best[r.framework].accuracy, -best[r.framework].size_bytes):
            best[r.framework] = r
    return best
