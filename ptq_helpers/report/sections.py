"""The analysis report's sections, each rendered from the results payload (the --ptq-json data)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.core.classes import CLASSES
from ptq_helpers.results.record import ModelRecord, load_all
from ptq_helpers.results.record import kib as _kib  # noqa: F401 - report.answers uses it too
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.analysis.speed import NOISE_NOTE
from ptq_helpers.report.executed import executed_line, runtime_text
from ptq_helpers.report import speed
from ptq_helpers.report.tables import ci_text, dtype_label, framework_label
from ptq_helpers.report.markdown import table as _table

Payload = Mapping[str, Any]


class View:
    """The payload's records (rebuilt from JSON, linked to their baselines) and what the sections share."""

    def __init__(self, data: Payload) -> None:
        self.data = data
        self.models = load_all(data["models"])
        self.th = Thresholds.from_json(data["thresholds"])
        self.classes: list[str] = list(data.get("classes") or CLASSES)
        self.bench: Mapping[str, Any] = data.get("benchmarks") or {}
        self.unsupported: list[Mapping[str, Any]] = list(data.get("unsupported") or [])
        self.images: int | None = next(iter(self.models.values())).total if self.models else None  # test set
        self.ran: Mapping[str, Any] | None = data.get("gates_run")  # None: every gate counts (see gates.verdict)

    def frameworks(self) -> dict[str, str]:
        """Framework id -> label, in the records' order (the label each record carries)."""
        return {m.framework: m.framework_label for m in self.models.values()}

    def framework_label(self, entry: Mapping[str, Any]) -> str:
        """The framework label of a JSON entry (unsupported case, reference, selection backend)."""
        return framework_label(entry, self.models)

    def dtype_label(self, entry: Mapping[str, Any]) -> str:
        return dtype_label(entry, self.models)

    def quantized(self) -> list[ModelRecord]:
        return [m for m in self.models.values() if not m.is_fp32]

    def failures(self, m: ModelRecord) -> dict[str, str]:
        return gates.verdict(m, self.th, self.ran).failed

    def verdict(self, m: ModelRecord) -> gates.Verdict:
        return gates.verdict(m, self.th, self.ran)

    def passing(self) -> list[ModelRecord]:
        return gates.passing(self.models, self.th, self.ran)

    def throughput(self, m: ModelRecord) -> float | None:
        fig = self.bench.get(m.key, {}).get("256")
        return fig["images_per_s"] if fig else None


def _pick(view: View) -> list[tuple[str, Mapping[str, Any] | None, str]]:
    """Use case -> chosen model -> rule, from the measured numbers of the builds that pass every gate."""
    ok = view.passing()
    best_acc = max(ok, key=lambda m: (m.accuracy, -m.size_bytes), default=None)
    smallest = min(ok, key=lambda m: (m.size_bytes, -m.accuracy), default=None)
    picks = [
        ("Best accuracy", best_acc, "highest top-1 among quantized builds that pass every gate"),
        ("Best compression", smallest, "smallest file among quantized builds that pass every gate"),
    ]
    for fw, label in view.frameworks().items():  # one deployment row per framework of the run
        mine = [m for m in ok if m.framework == fw]
        picks.append((f"{label}-only deployment", max(mine, key=lambda m: (m.accuracy, -m.size_bytes), default=None),
                      f"highest top-1 among passing {label} builds"))
    picks += speed.picks(view)  # fastest passing build at batch 256 and batch 1, with the tie rule
    return picks


def summary(view: View) -> list[str]:
    out = ["## Executive summary", ""]
    q = view.quantized()
    if not q:
        return out + ["No quantized model was evaluated in this run.", *speed.summary_lines(view), ""]
    best_keep = min(q, key=lambda m: m.drop)
    best_size = max(q, key=lambda m: m.size_reduction)
    failed = [m for m in q if view.failures(m)]
    failing = ", ".join(f"`{m.key}`" for m in failed)
    out += [
        f"- **Best accuracy retention:** {best_keep.label} at {best_keep.accuracy:.2f}% "
        f"({-best_keep.drop:+.2f} points vs its fp32 baseline).",
        f"- **Best compression:** {best_size.label} at {_kib(best_size.size_bytes)} "
        f"({best_size.size_reduction:.1f}% smaller than its fp32 file).",
        f"- **Gates:** {len(q) - len(failed)} of {len(q)} quantized models pass every gate"
        + (f"; failing: {failing}." if failed else "."),
    ] + executed_line(q)
    chosen = _pick(view)[0][1]
    out.append(f"- **Recommendation:** ship {chosen.label}{_holds_on(view, chosen)} (see "
               f"[Recommendation](#recommendation))" + _across_backends(view, chosen) if chosen
               else "- **Recommendation:** no quantized build passes every gate; ship the fp32 model.")
    return out + speed.summary_lines(view) + [""]


def _holds_on(view: View, chosen: ModelRecord) -> str:
    """', which passes every gate on host, avx2 and mcu' when the run measured it on more than one target."""
    on = [m.target for m in view.models.values() if m.id == chosen.id]
    return f", which passes every gate on {', '.join(on)}" if len(on) > 1 else ""


def _across_backends(view: View, chosen: ModelRecord) -> str:
    """Whether the top build is separable from the best build of every other backend (paired, JSON
    selection.across_backends), and what the secondary rule ships when it is not."""
    acr = (view.data.get("selection") or {}).get("across_backends") or {}
    if acr.get("top") != chosen.key or not acr.get("vs"):
        return "."
    cells = [f"`{k}` {v['delta']:+.2f} [{v['diff_ci'][0]:+.2f}, {v['diff_ci'][1]:+.2f}]" for k, v in acr["vs"].items()]
    said = f"; against the best build of every other backend (Δ top-1, paired 95% interval, points): {', '.join(cells)}"
    if acr["verdict"] == "clear":
        return said + ": separable from all of them."
    others = [f"`{k}`" for k in acr["tied"] if k != chosen.key]
    return (said + f": a **tie** with {', '.join(others)}, so by the secondary rule (smallest file among the tied) "
            f"ship `{acr['recommended']}`.")


def recommendation(view: View) -> list[str]:
    out = ["## Recommendation", "", "Per use case, chosen by rules over this run's numbers:", ""]
    rows = []
    held_out = (view.data.get("selection") or {}).get("backends", {})
    for use, m, rule in _pick(view):
        if m is None:
            rows.append((use, "none passes every gate", "-", "-", "-", rule))
            continue
        sel = held_out.get(m.framework, {})
        if use == "Best accuracy" and sel.get("verdict") == "tie" and m.key in sel.get("tied", ()):
            rule += (f"; on held-out images a **tie** with {len(sel['tied']) - 1} other build(s), so by the secondary "
                     f"rule (smallest file) ship `{sel['recommended']}` (see the held-out section)")
        acr = (view.data.get("selection") or {}).get("across_backends") or {}
        if use == "Best accuracy" and acr.get("top") == m.key and acr.get("verdict") == "tie":
            rule += f"; across backends a **tie** with {', '.join(acr['tied'][1:])}: ship `{acr['recommended']}`"
        rows.append((use, m.label, f"{m.accuracy:.2f}%", f"{-m.drop:+.2f}", _kib(m.size_bytes), rule))
    out += _table(("Use case", "Recommended model", "Accuracy", "Δ vs fp32", "Size", "Rule"), rows)
    out += ["Best configuration per backend (highest top-1 among builds that pass every gate), with the paired "
            "bootstrap interval of its difference to fp32 and, when the sweep ran, its spread over calibration draws:",
            ""]
    rows = []
    winners = gates.best_by_framework(view.models, view.th, view.ran)
    for fw, label in view.frameworks().items():
        best = winners.get(fw)
        if best is None:
            rows.append((label, "none passes every gate", "-", "-", "-", "-"))
            continue
        sw = (view.data.get("sweep") or {}).get(best.key)
        ci = ci_text(best)
        spread = (f"{sw['mean']:.2f}% ± {sw['std']:.2f} ({sw['min']:.2f}–{sw['max']:.2f}%, {sw['draws']} draws)"
                  if sw else "not run")
        rows.append((label, f"`{best.key}`", f"{best.accuracy:.2f}% ({-best.drop:+.2f})", ci,
                     spread, _kib(best.size_bytes)))
    out += _table(("Backend", "Best configuration", "Accuracy (Δ vs fp32)", "Δ 95% CI", "Calibration sweep", "Size"),
                  rows)
    ok = view.passing()
    out.append(f"{len(ok)} of {len(view.quantized())} quantized models meet every requirement (accuracy above "
               f"{view.th.min_accuracy:g}%, drop below {view.th.max_drop:g} points, per-class and size gates).")
    return out + [""]


def frameworks(view: View) -> list[str]:
    out = ["## Framework comparison", ""]
    for fw, label in view.frameworks().items():
        mine = [m for m in view.quantized() if m.framework == fw]
        refused = [u for u in view.unsupported if u["framework"] == fw]
        out += [f"### {label}", ""]
        out.append("- **Supported types (built and measured):** "
                   + (", ".join(f"{m.dtype_label} ({m.accuracy:.2f}%)" for m in mine) or "none"))
        if refused:
            out.append("- **Not supported:** " + "; ".join(f"{view.dtype_label(u)}: {u['reason']}" for u in refused))
        ran = [f"  - `{m.key}`: {runtime_text(m)}" for m in view.models.values() if m.framework == fw and m.runtime]
        if ran:
            out += ["- **As the runtime reports it** (asked of the compiled model):", *ran]
        formats = sorted({m.format_label for m in mine})
        settings = sorted({m.settings for m in mine})
        out += [f"- **Format:** {', '.join(formats) or '-'}", f"- **Settings:** {'; '.join(settings) or '-'}"]
        if mine:
            best = max(mine, key=lambda m: m.accuracy)
            out.append(f"- **Best measured:** `{best.key}` at {best.accuracy:.2f}% ({-best.drop:+.2f} "
                       f"points vs fp32)")
        out.append("")
    return out


def _size_limits(view: View) -> str:
    """The size-reduction limit of every size kind the records use, with the frameworks that use it, e.g.
    '55% for ONNX Runtime and OpenVINO (size kind `onnx`), 45% for PyTorch (`torch`)'."""
    kinds: dict[str, dict[str, None]] = {}
    for m in view.models.values():
        kinds.setdefault(m.size_kind, {})[m.framework_label] = None
    parts = []
    for i, (kind, labels) in enumerate(kinds.items()):
        names = list(labels)
        who = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        limit = view.th.size_reductions.get(kind)
        parts.append(f"{f'{limit:g}%' if limit is not None else 'no limit recorded'} for {who} "
                     f"({'size kind ' if i == 0 else ''}`{kind}`)")
    return ", ".join(parts) or "per size kind (no model in this run)"


def assessment(view: View) -> list[str]:
    th = view.th
    out = ["## Accuracy-drop assessment", "",
           f"Thresholds: top-1 above {th.min_accuracy:g}%, drop below {th.max_drop:g} points vs the same "
           f"framework's fp32, no class losing more than {th.max_class_drop:g} points, file size reduction at "
           f"least {_size_limits(view)}; "
           + (f"fp32 baselines pinned at {th.fp32_correct}/10000 correct. " if th.fp32_correct is not None else
              "no fp32 pin (not the reference ResNet8: each framework's measured fp32 is its baseline). ")
           + ("Gates use the measured values (`--ptq-gate-margin=point`)." if th.gate_margin == "point" else
              "Gates use one-sided 95% bounds (`--ptq-gate-margin=ci`): the Clopper–Pearson lower bound of "
              "top-1 and the paired-bootstrap upper bounds of the drop and of each class's drop."), ""]
    rows = []
    for m in sorted(view.models.values(), key=lambda m: (not m.is_fp32, m.drop if not m.is_fp32 else 0)):
        failed = view.failures(m)
        worst = max(m.class_drops, default=float("nan"))
        rows.append((f"`{m.key}`", f"{m.accuracy:.2f}%", "-" if m.is_fp32 else f"{-m.drop:+.2f}",
                     "-" if m.is_fp32 else f"{-worst:+.1f}", "Pass" if not failed else "**Fail**"))
    out += _table(("Configuration", "Accuracy", "Δ vs fp32 (points)", "Worst class Δ (points)", "Status"), rows)
    odd = view.data.get("suspicious") or {}
    if odd.get("models"):
        out += ["**Suspicious results** (different configurations, byte-identical models: a setting had no "
                "effect):", "", *(f"- {line}" for line in odd["models"]), ""]
    if odd.get("predictions"):
        out += ["Configurations whose settings changed no prediction (numerically equivalent here):", "",
                *(f"- {line}" for line in odd["predictions"]), ""]
    if odd.get("expected"):
        out += ["Configurations that are the same thing on this CPU (identical by design, not an ignored setting):",
                "", *(f"- {line}" for line in odd["expected"]), ""]
    messages = [msg for m in view.models.values() for msg in view.failures(m).values()]
    if messages:
        out += ["Failed gates:", "", *(f"- {msg}" for msg in messages), ""]
    else:
        out += ["No configuration exceeds a threshold.", ""]
    return out


def per_class(view: View, figure: str | None) -> list[str]:
    models = list(view.models.values())
    rows = []
    for i, name in enumerate(view.classes):
        cells = [name]
        for m in models:
            value = f"{m.per_class[i]:.1f}%"
            if m.compared:
                value += f" ({-m.class_drops[i]:+.1f})"
            cells.append(value)
        rows.append(cells)
    out = ["## Per-class accuracy", "", "Accuracy per class on its 1,000 test images; quantized models show "
           "(Δ points vs their framework's fp32).", "", *_table(("Class", *(f"`{m.key}`" for m in models)), rows)]
    drops = [(d, i, m) for m in view.quantized() for i, d in enumerate(m.class_drops)]
    if drops:
        d, i, m = max(drops, key=lambda t: t[0])
        base = m.base
        out += [f"**Largest per-class drop:** {view.classes[i]} in `{m.key}`: {base.per_class[i]:.1f}% → "
                f"{m.per_class[i]:.1f}% ({-d:+.1f} points).", ""]
        spread = sorted(((max(q.class_drops) - min(q.class_drops), q.key) for q in view.quantized()))
        out += [f"Most uniform across classes: `{spread[0][1]}` (per-class Δ range {spread[0][0]:.1f} points).", ""]
    if figure:
        out += [f"![Per-class Δ vs fp32]({figure})", ""]
    return out


def sizes(view: View, figure: str | None) -> list[str]:
    compared = [m for m in view.quantized() if m.compared]
    rows = [(f"`{m.key}`", m.format_label, _kib(m.base.size_bytes),
             _kib(m.size_bytes), f"{m.size_reduction:.1f}%") for m in compared]
    fp32 = ", ".join(f"`{m.key}` {m.size_bytes:,} bytes" for m in view.models.values() if m.is_fp32)
    out = ["## Size comparison", "", f"Sizes of the serialized files, each against its own framework's fp32 file "
           f"({fp32}).", "",
           *_table(("Model", "Format", "Original (fp32)", "Quantized", "Reduction"), rows)]
    if {"onnx", "torch"} <= {m.size_kind for m in compared}:  # the explanation of those two kinds' sizes
        out += ["Why the formats differ: a QDQ ONNX file stores int8/uint8 weights plus one scale and zero point per "
                "tensor, and keeps the graph as protobuf; TorchScript archives add the module code, debug "
                "information and fbgemm's packed weight layout (in a zip container), so the same int8 network is "
                "larger as TorchScript.", ""]
    if figure:
        out += [f"![Accuracy vs model size]({figure})", ""]
    return out


def methodology(view: View) -> list[str]:
    meta = view.data.get("meta") or {}
    cal, model = meta.get("calibration", {}), meta.get("model") or {}
    feed = (model.get("contract") or {}).get("description", "input float32 NHWC 0..255; probabilities out")
    out = ["## Methodology", "", f"- **Model:** {model.get('source', 'MLPerf Tiny ResNet8 (CIFAR-10)')}, fp32 ONNX "
           f"sha256 `{meta.get('source_sha256', '?')}`" + (f"; exported from the .pt2, {model['conversion']}" if
                                                           model.get("conversion") else "") + ".",
           f"- **Evaluation data:** the 10,000 CIFAR-10 test images (pixel sha256 `{meta.get('test_sha256', '?')}`), "
           f"fed as the model's input contract: {feed}.",
           f"- **Calibration data:** {cal.get('per_class', '?')} images per class from the 50,000 "
           f"{cal.get('split', 'train')}ing images (pixel sha256 `{meta.get('train_sha256', '?')}`), drawn with "
           f"`np.random.seed({cal.get('seed', '?')})` then `np.random.choice(class_indices, "
           f"{cal.get('per_class', '?')}, "
           f"replace=False)` per class 0..9; indices sha256 `{meta.get('calibration_indices_sha256', '?')}`. The "
           "same images calibrate every framework; none of them is a test image.",
           "- **Method:** static post-training quantization, no fine-tuning.", "",
           "### Calibration details", "",
           f"- **Samples:** {cal.get('per_class', 0) * 10:,} ({cal.get('per_class', '?')} per class, balanced) "
           f"from the CIFAR-10 {cal.get('split', 'train')}ing split; evaluation uses the test split only.",
           f"- **Preprocessing:** the model's input contract ({feed}), the same for every framework.",
           "- **Purpose:** activation ranges for the scales and zero points; weights need no data.", ""]
    rows = [(f"`{m.key}`", m.settings)
            for m in view.models.values()]
    out += ["Quantization settings:", "", *_table(("Model", "Settings"), rows)]
    tools = dict.fromkeys(m.framework_tools for m in view.models.values() if m.framework_tools)
    out += ["Quantization tools: " + "; ".join(tools) + ".", ""] if tools else []
    versions = meta.get("versions", {})
    out += [f"- **Machine:** CPU {meta.get('cpu', '?')}, {meta.get('threads', '?')} thread(s) per test process.",
            "- **Libraries:** " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", ""]
    if view.bench:
        rows = []
        for m in view.models.values():
            fig = view.bench.get(m.key, {})
            if fig:
                b1, b256 = fig.get("1"), fig.get("256")
                noisy = [" *" if f and f.get("noisy") else "" for f in (b1, b256)]
                rows.append((f"`{m.key}`", f"{b1['median_ms'] * 1e3:.0f} µs{noisy[0]}" if b1 else "-",
                             f"{b256['images_per_s']:,.0f}{noisy[1]}" if b256 else "-"))
        out += ["Benchmarks (pytest-benchmark medians, this run):", "",
                *_table(("Model", "Batch 1 latency", "Batch 256 images/s"), rows)]
        if any("*" in cell for row in rows for cell in row[1:]):
            out += [NOISE_NOTE, ""]
    else:
        out += ["Benchmarks were not run (`pytest --benchmark-only --ptq-report ...` adds them).", ""]
    return out

