"""One report comparing several runs (e.g. an AVX2 runner and a VNNI runner) side by side, rendered from
their --ptq-json files: the machines, each model's accuracy and verdict per run, and where they disagree.

    python -m ptq_helpers.report run-A.json run-B.json -o machines.md
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ptq_helpers.report.sections import View, _table

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")


def _machine(data: Mapping[str, Any]) -> tuple[str, str]:
    """(CPU name, the instruction-set flags it has) as the run recorded them."""
    meta = data.get("meta", {})
    host = meta.get("targets", {}).get("host via the test process", {}).get("cpu", {})
    flags = host.get("flags", {})
    return str(meta.get("cpu", "?")), ", ".join(f for f in FLAGS if flags.get(f)) or "not recorded"


def _differing(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The libraries whose versions differ between the runs (what a side-by-side comparison must name)."""
    found = [data.get("meta", {}).get("versions", {}) for _, data in runs]
    names = dict.fromkeys(k for versions in found for k in versions)
    return [k for k in names if len({versions.get(k) for versions in found}) > 1]


def _cell(view: View, key: str) -> str:
    m = view.models.get(key)
    if m is None:
        return "not run"
    failed = view.failures(m)
    drop = "" if m.is_fp32 else f" ({-m.drop:+.2f})"
    return f"{m.accuracy:.2f}%{drop} " + ("pass" if not failed else "**FAIL: " + ", ".join(failed) + "**")


def _throughput(view: View, key: str) -> str:
    value = view.throughput(view.models[key]) if key in view.models else None
    return f"{value:,.0f} img/s" if value else "-"


def render_runs(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Markdown comparing the runs; `runs` are (label, payload) in the order given."""
    views = [(label, View(data)) for label, data in runs]
    labels = [label for label, _ in views]
    keys = list(dict.fromkeys(k for _, v in views for k in v.models))
    out = ["# ResNet8 CIFAR-10 post-training quantization: runs side by side", "",
           f"Rendered by resnet8-ptq from {len(runs)} results files; each model is judged by its own run's "
           "thresholds and compared with its own run's fp32 baseline.", "", "## Machines", ""]
    rows = []
    for (label, data), (_, view) in zip(runs, views):
        cpu, flags = _machine(data)
        versions = data.get("meta", {}).get("versions", {})
        rows.append((f"`{label}`", cpu, flags, str(data.get("meta", {}).get("threads", "?")),
                     ", ".join(f"{k} {versions[k]}" for k in _differing(runs) if k in versions) or "same",
                     f"{len(view.models)} models, {len(view.passing())} quantized passing"))
    out += _table(("Run", "CPU", "ISA flags", "Threads", "Versions", "Results"), rows)

    out += ["## Top-1 (Δ vs the run's fp32) and verdict", ""]
    same = []
    for key in keys:
        shas = {v.models[key].predictions_sha256 for _, v in views if key in v.models}
        same.append("yes" if len(shas) == 1 and all(key in v.models for _, v in views) else
                    ("differ" if len(shas) > 1 else "-"))
    out += _table(("Model", *labels, "Same predictions"),
                  [(f"`{k}`", *(_cell(v, k) for _, v in views), s) for k, s in zip(keys, same)])
    if any(v.bench for _, v in views):
        out += ["## Throughput, batch 256 (pytest-benchmark medians)", ""]
        out += _table(("Model", *labels), [(f"`{k}`", *(_throughput(v, k) for _, v in views)) for k in keys])

    out += ["## Where the runs disagree", ""]
    notes = []
    for key, s in zip(keys, same):
        verdicts = {label: _cell(v, key) for label, v in views}
        passed = {label: "FAIL" not in cell for label, cell in verdicts.items() if cell != "not run"}
        if len(set(passed.values())) > 1:
            notes.append(f"- `{key}`: **verdict differs**: " + "; ".join(f"{lb}: {c}" for lb, c in verdicts.items()))
        elif s == "differ":
            notes.append(f"- `{key}`: same verdict, different predictions: "
                         + "; ".join(f"{lb}: {c}" for lb, c in verdicts.items()))
    out += notes or ["- Every model has the same predictions and the same verdict in every run."]
    return "\n".join(out).rstrip() + "\n"
