"""The results JSON (--ptq-json): the records' serialisation plus what the run measured around them."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.core.classes import CLASSES
from ptq_helpers.core.fileio import atomic_write_bytes
from ptq_helpers.analysis.multiplicity import adjust
from ptq_helpers.analysis.selection import held_out
from ptq_helpers.results.json_io import SCHEMA
from ptq_helpers.results.record import ModelRecord, encode_classes, in_matrix_order
from ptq_helpers.results.run_results import RunResults
from ptq_helpers.matrix.thresholds import Thresholds


def _differences(a: ModelRecord, b: ModelRecord) -> str:
    qa, qb = a.quant or {}, b.quant or {}
    keys = [k for k in dict.fromkeys([*qa, *qb]) if qa.get(k) != qb.get(k)]
    return ", ".join(f"{k} {qa.get(k)}/{qb.get(k)}" for k in keys) or "no setting"


def _expected(a: ModelRecord, b: ModelRecord, noops: Iterable[Mapping[str, Any]]) -> str | None:
    """Why two records of one framework that differ only in a setting that is a no-op on this CPU are the same."""
    qa, qb = a.quant or {}, b.quant or {}
    differ = {k for k in {*qa, *qb} if qa.get(k) != qb.get(k)}
    for n in noops:
        if (a.framework == b.framework == n["framework"] and differ == {n["setting"]}
                and {str(qa.get(n["setting"])), str(qb.get(n["setting"]))} <= set(n["values"])):
            return str(n["why"])
    return None


def suspicious(records: Mapping[str, ModelRecord], noops: Iterable[Mapping[str, Any]] = ()) -> dict[str, list[str]]:
    """Different quantized configurations that came out identical: 'models' (byte-identical files, a
    setting was ignored), 'predictions' (same top-1 on every image, the settings made no difference) and
    'expected' (identical because the setting they differ in is a no-op on this CPU: `noops`, see cases.NoOp)."""
    quantized = [r for r in in_matrix_order(records) if not r.is_fp32 and r.target == "host"]
    noops = list(noops)
    found: dict[str, list[str]] = {"models": [], "predictions": [], "expected": []}
    for i, a in enumerate(quantized):
        for b in quantized[i + 1:]:
            pair = f"{a.id} and {b.id} (differ in {_differences(a, b)})"
            same = ("byte-identical model files" if a.sha256 == b.sha256 else
                    f"identical top-1 predictions on all {a.total:,} images"
                    if a.predictions_sha256 and a.predictions_sha256 == b.predictions_sha256 else None)
            why = _expected(a, b, noops) if same else None
            if why:
                found["expected"].append(f"{pair}: {same}, as expected on this CPU ({why})")
            elif a.sha256 == b.sha256:
                found["models"].append(f"{pair}: byte-identical model files (sha256 {a.sha256[:12]}...)")
            elif same:
                found["predictions"].append(f"{pair}: {same}")
    return found


def unsupported() -> list[dict[str, Any]]:
    """The matrix's cases that their backend cannot build, as the JSON's `unsupported` list: id, framework,
    dtype and reason, with the labels a reader shows (so it needs no registry)."""
    return [{"id": c.id, "framework": c.framework, "dtype": c.dtype, "reason": c.unsupported,
             "framework_label": c.backend.label, "dtype_label": cases.DTYPE_LABELS.get(c.dtype, c.dtype)}
            for c in cases.UNSUPPORTED]


IMAGE_ORDER = ("index i is the i-th image of CIFAR-10's test split as cifar-10-batches-py/test_batch stores it "
               "(its data[i] and labels[i]); every record's `predictions` and `hits` follow this order")
ENCODING = "`labels` and each record's `predictions`: base64 of one uint8 class index per image (names: `classes`)"


def images(labels: str) -> dict[str, Any] | None:
    """The JSON's `images` entry: the test images' order, how classes are encoded, and the true labels."""
    if not labels:
        return None
    return {"set": "CIFAR-10 test split", "order": IMAGE_ORDER, "encoding": ENCODING, "count": len(labels),
            "labels": encode_classes([int(c) for c in labels])}


def payload(results: RunResults, th: Thresholds, meta: Mapping[str, Any],
            ran: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    """Everything the JSON file holds; `ran`: per record key the gates whose test ran in this session (None: a
    payload made outside a pytest run, where every gate counts)."""
    records = results.linked_records()
    verdicts = {rec.key: gates.verdict(rec, th, ran) for rec in in_matrix_order(records)}
    return {
        "schema": SCHEMA,
        "generator": "resnet8-ptq",
        "meta": {**meta, **results.hashes},
        "thresholds": th.to_json(),
        "classes": list(CLASSES),
        "images": images(results.labels),
        "models": [r.to_json() for r in in_matrix_order(records)],
        "unsupported": unsupported(),
        "benchmarks": dict(results.bench),
        "sweep": dict(results.sweep),
        "recipe": dict(results.recipe),
        "diagnosis": dict(results.diagnosis),
        "references": [asdict(r) for r in results.references.values()],
        "mcu": {b.id: {**asdict(b), "gates": gates.mcu_budgets(b, th)} for b in results.mcu.values()},
        "suspicious": suspicious(records, meta.get("cpu_noops", ())),
        "multiplicity": adjust(records),
        "selection": held_out(records, th, results.labels),
        "gates": {key: v.failed for key, v in verdicts.items()},
        # The rule (docs/gates-and-options.md#gates-that-did-not-run): a gate counts only when its test ran in the
        # session; `gates_run` is what ran per record (null: every gate counts), `gates_not_run` what did not.
        "gates_run": {key: sorted(names) for key, names in ran.items()} if ran is not None else None,
        "gates_not_run": {key: list(v.not_run) for key, v in verdicts.items() if v.not_run} if ran is not None
        else None,
    }


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, sort_keys=False).encode() + b"\n")
