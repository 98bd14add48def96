"""The pass/fail rules, shared by the tests (which assert) and the summary (which shows status).

Each gate takes result records (see results.record) and returns None when it passes, else a
message naming the model, the measured value and the limit.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ptq_helpers.cifar import CLASSES
from ptq_helpers.thresholds import Thresholds

Record = Mapping[str, Any]


def accuracy(rec: Record, th: Thresholds) -> str | None:
    if rec["accuracy"] > th.min_accuracy:
        return None
    return (f"{rec['id']}: top-1 {rec['accuracy']:.2f}% ({rec['correct']}/{rec['total']}) is not above "
            f"{th.min_accuracy:.2f}% (--ptq-min-accuracy)")


def drop(rec: Record, base: Record, th: Thresholds) -> str | None:
    value = base["accuracy"] - rec["accuracy"]
    what = "top-1 drop"
    if th.drop_gate == "ci" and "stats" in rec:
        value, what = -rec["stats"]["diff_ci_low"], "upper 95% bound of the top-1 drop"
    if value < th.max_drop:
        return None
    return (f"{rec['id']}: {what} {value:.2f} points vs {base['id']} ({rec['accuracy']:.2f}% vs "
            f"{base['accuracy']:.2f}%) is not below {th.max_drop:.2f} (--ptq-max-drop, --ptq-drop-gate {th.drop_gate})")


def size_reduction(rec: Record, base: Record, th: Thresholds) -> str | None:
    value = 100.0 * (1 - rec["size_bytes"] / base["size_bytes"])
    limit = th.min_size_reduction(rec["framework"])
    if value >= limit:
        return None
    flag = "--ptq-min-size-reduction-onnx" if rec["framework"] == "onnxruntime" else "--ptq-min-size-reduction-torch"
    return (f"{rec['id']}: size reduction {value:.1f}% ({rec['size_bytes']:,} vs {base['size_bytes']:,} bytes "
            f"of {base['id']}) is below {limit:.1f}% ({flag})")


def class_drop(rec: Record, base: Record, th: Thresholds) -> str | None:
    drops = [b - q for q, b in zip(rec["per_class"], base["per_class"])]
    worst = max(range(len(drops)), key=drops.__getitem__)
    if drops[worst] <= th.max_class_drop:
        return None
    return (f"{rec['id']}: class {CLASSES[worst]!r} drops {drops[worst]:.1f} points vs {base['id']} "
            f"({rec['per_class'][worst]:.1f}% vs {base['per_class'][worst]:.1f}%), more than "
            f"{th.max_class_drop:.1f} (--ptq-max-class-drop)")


def fp32_pinned(rec: Record, th: Thresholds) -> str | None:
    if rec["correct"] == th.fp32_correct:
        return None
    return (f"{rec['id']}: {rec['correct']}/{rec['total']} correct, pinned fp32 baseline is "
            f"{th.fp32_correct}/{rec['total']} (--ptq-fp32-correct)")


def all_failures(rec: Record, base: Record | None, th: Thresholds) -> dict[str, str]:
    """Every gate that applies to a record and failed: gate name -> message (for summary and JSON)."""
    found = {"accuracy": accuracy(rec, th)}
    if rec["dtype"] == "fp32":
        found["fp32-pin"] = fp32_pinned(rec, th)
    elif base is not None:
        found.update({"drop": drop(rec, base, th), "size": size_reduction(rec, base, th),
                      "class-drop": class_drop(rec, base, th)})
    return {name: msg for name, msg in found.items() if msg}


def passing(records: Mapping[str, Record], th: Thresholds) -> list[Record]:
    """Quantized records (with their fp32 baseline among `records`) that pass every gate."""
    return [r for r in records.values() if r["dtype"] != "fp32" and r["baseline_id"] in records
            and not all_failures(r, records[r["baseline_id"]], th)]


def best_by_framework(records: Mapping[str, Record], th: Thresholds) -> dict[str, Record]:
    """Per framework, the passing build with the highest top-1 (the smaller file on a tie)."""
    best: dict[str, Record] = {}
    for r in passing(records, th):
        if r["framework"] not in best or (r["accuracy"], -r["size_bytes"]) > (
                best[r["framework"]]["accuracy"], -best[r["framework"]]["size_bytes"]):
            best[r["framework"]] = r
    return best
