"""Result records, the end-of-run table and the JSON file."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ptq_helpers import gates
from ptq_helpers.cases import CASES, DTYPE_LABELS, FRAMEWORK_LABELS, UNSUPPORTED, Case
from ptq_helpers.cifar import CLASSES
from ptq_helpers.fileio import atomic_write_bytes, sha256_bytes
from ptq_helpers.thresholds import Thresholds

Record = dict[str, Any]
HEADERS = ("Model", "Framework", "Data type", "Accuracy", "Δ vs fp32", "Size", "Size reduction", "Gates")


def record(case: Case, result: Any) -> Record:
    """A JSON-ready record of one model's measured results (result: store.ModelResult)."""
    m = result.metrics
    return {
        "id": case.id, "framework": case.framework, "dtype": case.dtype, "format": case.fmt,
        "baseline_id": case.baseline_id, "correct": m.correct, "total": m.total,
        "accuracy": round(m.accuracy, 4), "per_class": [round(v, 4) for v in m.per_class],
        "size_bytes": result.artifact.size, "sha256": result.artifact.sha256,
        "predictions_sha256": sha256_bytes(result.predictions.astype("<i8").tobytes()),
        "quant": case.spec()["quant"],
    }


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def rows(records: Mapping[str, Record], th: Thresholds) -> list[tuple[str, ...]]:
    """One row per model of the matrix that has a record, in matrix order, plus unsupported rows."""
    out: list[tuple[str, ...]] = []
    for case in CASES:
        if case.unsupported:
            out.append((case.id, FRAMEWORK_LABELS[case.framework], DTYPE_LABELS[case.dtype], "N/A", "N/A", "N/A",
                        f"N/A — not supported ({case.unsupported})", "-"))
            continue
        rec = records.get(case.id)
        if rec is None:
            continue
        base = records.get(case.baseline_id)
        if case.is_fp32 or base is None:
            delta = reduction = "-"
        else:
            delta = f"{rec['accuracy'] - base['accuracy']:+.2f}"
            reduction = f"{100 * (1 - rec['size_bytes'] / base['size_bytes']):.1f}%"
        failed = gates.all_failures(rec, base, th)
        status = "FAIL: " + ", ".join(failed) if failed else "pass"
        out.append((case.id, FRAMEWORK_LABELS[case.framework], DTYPE_LABELS[case.dtype],
                    f"{rec['accuracy']:.2f}%", delta, _kb(rec["size_bytes"]), reduction, status))
    return out


STATS_HEADERS = ("Model", "Top-1 agreement", "Only fp32 right", "Only quantized right", "McNemar p",
                 "Δ vs fp32, 95% CI")


def stats_rows(records: Mapping[str, Record]) -> list[tuple[str, ...]]:
    """Paired statistics of each quantized model against its fp32 baseline, in matrix order."""
    out = []
    for case in CASES:
        st = records.get(case.id, {}).get("stats")
        if st:
            out.append((case.id, f"{st['agreement']:.2f}%", str(st["only_fp32_correct"]),
                        str(st["only_quantized_correct"]), f"{st['mcnemar_p']:.3g}",
                        f"[{st['diff_ci_low']:+.2f}, {st['diff_ci_high']:+.2f}]"))
    return out


SWEEP_HEADERS = ("Model", "Draws", "Mean", "Std", "Min", "Max")


def sweep_rows(sweep: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Accuracy spread over calibration draws, in matrix order."""
    return [(c.id, str(sw["draws"]), f"{sw['mean']:.2f}%", f"{sw['std']:.2f}", f"{sw['min']:.2f}%", f"{sw['max']:.2f}%")
            for c in CASES if (sw := sweep.get(c.id))]


def _differences(a: Record, b: Record) -> str:
    qa, qb = a.get("quant") or {}, b.get("quant") or {}
    keys = [k for k in dict.fromkeys([*qa, *qb]) if qa.get(k) != qb.get(k)]
    return ", ".join(f"{k} {qa.get(k)}/{qb.get(k)}" for k in keys) or "no setting"


def suspicious(records: Mapping[str, Record]) -> dict[str, list[str]]:
    """Different quantized configurations that came out identical: 'models' (byte-identical files, a
    setting was ignored) and 'predictions' (same top-1 on every image, the settings made no difference)."""
    quantized = [records[c.id] for c in CASES if c.id in records and records[c.id]["dtype"] != "fp32"]
    found: dict[str, list[str]] = {"models": [], "predictions": []}
    for i, a in enumerate(quantized):
        for b in quantized[i + 1:]:
            pair = f"{a['id']} and {b['id']} (differ in {_differences(a, b)})"
            if a["sha256"] == b["sha256"]:
                found["models"].append(f"{pair}: byte-identical model files (sha256 {a['sha256'][:12]}...)")
            elif a.get("predictions_sha256") and a.get("predictions_sha256") == b.get("predictions_sha256"):
                found["predictions"].append(f"{pair}: identical top-1 predictions on all {a['total']:,} images")
    return found


def aligned(headers: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned text columns."""
    widths = [max(len(r[i]) for r in (headers, *body)) for i in range(len(headers))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(headers), fmt(tuple("-" * w for w in widths)), *map(fmt, body)]


def table(records: Mapping[str, Record], th: Thresholds) -> list[str]:
    """The accuracy/size summary as aligned text lines."""
    return aligned(HEADERS, rows(records, th))


def payload(records: Mapping[str, Record], th: Thresholds, meta: Mapping[str, Any],
            bench: Mapping[str, Any] | None = None, sweep: Mapping[str, Any] | None = None,
            diagnosis: Mapping[str, Any] | None = None,
            references: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the JSON file holds."""
    return {
        "schema": 1,
        "generator": "resnet8-ptq",
        "meta": dict(meta),
        "thresholds": th.__dict__,
        "classes": list(CLASSES),
        "models": [records[c.id] for c in CASES if c.id in records],
        "unsupported": [{"id": c.id, "framework": c.framework, "dtype": c.dtype, "reason": c.unsupported}
                        for c in UNSUPPORTED],
        "benchmarks": dict(bench or {}),
        "sweep": dict(sweep or {}),
        "diagnosis": dict(diagnosis or {}),
        "references": list((references or {}).values()),
        "suspicious": suspicious(records),
        "gates": {rid: gates.all_failures(rec, records.get(rec["baseline_id"]), th) for rid, rec in records.items()},
    }


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, sort_keys=False).encode() + b"\n")
