"""Speed in the decision, rendered from the results payload: the table of accuracy, size and paired speed ratios per
CPU, the Pareto-optimal builds, and the fastest passing build (batch 256 and batch 1) with its tie rule. Shared by
the report (section `section`, summary lines `summary_lines`, recommendation rows `picks`) and the terminal summary
(`headers`, `rows`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ptq_helpers.analysis import gates, paired, speed_pick
from ptq_helpers.analysis.speed import LATENCY_BATCH, THROUGHPUT_BATCH
from ptq_helpers.analysis.speed_pick import Candidate, Fastest, ratio_text
from ptq_helpers.core.isa import summary as isa_summary
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.results.record import ModelRecord
from ptq_helpers.results.record import kib as _kib
from ptq_helpers.report.markdown import table as _md_table


class View(Protocol):
    """What the speed sections read of report.sections.View (not imported: sections imports this module)."""

    data: Mapping[str, Any]
    models: Mapping[str, ModelRecord]
    th: Thresholds
    bench: Mapping[str, Any]
    images: int | None

    def passing(self) -> list[ModelRecord]: ...

    def quantized(self) -> list[ModelRecord]: ...

NOT_MEASURED = "accuracy not measured: run `pytest -n auto` first"
Bench = Mapping[str, Mapping[str, Mapping[str, Any]]]


def reference_id(bench: Bench) -> str | None:
    """The reference fp32 the `vs_reference` ratios were timed against (ort-fp32 for the seed matrix)."""
    for per_batch in bench.values():
        for fig in per_batch.values():
            if fig.get("vs_reference"):
                return str(fig["vs_reference"]["baseline"])
    return None


def headers(ref: str | None) -> tuple[str, ...]:
    return ("Model", "Top-1 (Δ vs fp32)", "Size (reduction)", f"Batch-{LATENCY_BATCH} latency",
            f"Batch-{THROUGHPUT_BATCH} img/s", f"Speedup vs own fp32, batch {LATENCY_BATCH}",
            f"Speedup vs own fp32, batch {THROUGHPUT_BATCH}", f"Speedup vs {ref or 'reference fp32'}, batch "
            f"{THROUGHPUT_BATCH}", "Gates")


def speed_failure(m: ModelRecord, bench: Bench, th: Thresholds) -> str | None:
    """The opt-in speed gate's failure for a quantized host build (None when it passes, is off or does not apply)."""
    if th.min_speedup is None or m.is_fp32 or m.target != "host" or not bench.get(m.key):
        return None
    fig = bench[m.key].get(str(THROUGHPUT_BATCH), {}).get("vs_fp32")
    return speed_pick.speed_gate(m.where, THROUGHPUT_BATCH, fig, th.min_speedup)


INTERFERENCE = 1.25  # paired rounds this much slower than the build's own benchmark median: the runtimes interfere
INTERFERENCE_NOTE = (f"† the build ran over {INTERFERENCE:g}x slower in these paired rounds than in its own benchmark "
                     "a moment earlier: the machine's load changed in between, or the two runtimes alternating on few "
                     "cores interfere (e.g. ONNX Runtime's intra-op threads keep spinning after a call); the pairing "
                     "cancels a load shared by both sides, not an interference of one with the other, so read that "
                     "ratio with care")


def _paired_cell(fig: Mapping[str, Any] | None, alone: Mapping[str, Any]) -> str:
    """The ratio with its interval, marked † when the paired rounds disagree with the build's own benchmark."""
    text = ratio_text(fig)
    if fig and alone.get("median_ms") and fig.get("model_ms", 0) > INTERFERENCE * alone["median_ms"]:
        text += " †"
    return text


def _gates_cell(m: ModelRecord | None, bench: Bench, th: Thresholds) -> str:
    if m is None:
        return NOT_MEASURED
    failed = list(gates.all_failures(m, th)) if m.compared or m.is_fp32 else []
    if speed_failure(m, bench, th):
        failed.append("speedup")
    return "FAIL: " + ", ".join(failed) if failed else "pass"


def rows(records: Mapping[str, ModelRecord], bench: Bench, th: Thresholds, md: bool = False) -> list[tuple[str, ...]]:
    """One row per timed model (records' order first): accuracy and size from its record (or 'accuracy not
    measured'), the pytest-benchmark medians and the paired ratios with their 95% intervals."""
    host = {m.key: m for m in records.values() if m.target == "host"}
    out = []
    for key in dict.fromkeys([*(k for k in host if k in bench), *bench]):
        m, per_batch = host.get(key), bench[key]
        b1, b256 = per_batch.get(str(LATENCY_BATCH), {}), per_batch.get(str(THROUGHPUT_BATCH), {})
        if m is None:
            top1, size = "not measured", "-"  # the last column says how to measure it
        elif m.compared:
            top1, size = f"{m.accuracy:.2f}% ({-m.drop:+.2f})", f"{_kib(m.size_bytes)} ({m.size_reduction:.1f}%)"
        else:
            top1, size = f"{m.accuracy:.2f}%" + (" (fp32)" if m.is_fp32 else ""), _kib(m.size_bytes)
        noisy = [" *" if f.get("noisy") else "" for f in (b1, b256)]
        out.append((f"`{key}`" if md else key,
                    f"{b1['median_ms'] * 1e3:,.0f} µs{noisy[0]}" if b1.get("median_ms") else "-",
                    f"{b256['images_per_s']:,.0f}{noisy[1]}" if b256.get("images_per_s") else "-",
                    _paired_cell(b1.get("vs_fp32"), b1), _paired_cell(b256.get("vs_fp32"), b256),
                    _paired_cell(b256.get("vs_reference"), b256), _gates_cell(m, bench, th)))
        out[-1] = (out[-1][0], top1, size, *out[-1][1:])
    return out


def candidates(view: View) -> list[Candidate]:
    """The builds passing every gate (the speed gate too, when set) with their timings, for the speed picks."""
    out = []
    for m in view.passing():
        per_batch = view.bench.get(m.key) or {}
        if not per_batch or speed_failure(m, view.bench, view.th):
            continue
        b1, b256 = per_batch.get(str(LATENCY_BATCH), {}), per_batch.get(str(THROUGHPUT_BATCH), {})
        out.append(Candidate(m.key, m.accuracy, m.size_bytes, b1.get("median_ms"), b256.get("images_per_s"),
                             {b: f["vs_reference"] for b, f in per_batch.items() if f.get("vs_reference")}))
    return out


def _said(f: Fastest, ref: str | None, what: str) -> tuple[str, str]:
    """(the chosen build, the rule with the verdict) of one speed pick."""
    if f.top is None:
        return "none passes every gate", "no passing build was timed"
    versus = f"paired speedup vs `{ref}`" if ref else "paired speedup"
    if f.verdict == "no interval":
        return f"`{f.top.key}`", f"{what}, by the pytest-benchmark median only (no paired ratio in this payload)"
    text = f"{what}: `{f.top.key}` {versus} {f.ratio_text(f.top)}"
    if f.verdict == "single":
        return f"`{f.top.key}`", text + " (the only passing build timed)"
    if f.verdict == "clear":
        return f"`{f.top.key}`", text + "; separable from every other passing build (no interval reaches it)"
    others = ", ".join(f"`{c.key}` {f.ratio_text(c)}" for c in f.tied if c is not f.top)
    return (f"`{f.ship.key}`" if f.ship else "-",
            text + f"; a **tie** with {others} (intervals overlap), so by the secondary rule (highest top-1, then "
                   f"smaller file) ship `{f.ship.key if f.ship else '-'}`")


def picks(view: View) -> list[tuple[str, ModelRecord | None, str]]:
    """The recommendation's speed rows: fastest at batch 256 and lowest latency at batch 1, by the tie rule."""
    if not view.bench:
        return []
    ref, cands = reference_id(view.bench), candidates(view)
    out = []
    for use, batch, what in (("Fastest passing build on this CPU (batch 256)", THROUGHPUT_BATCH,
                              "highest batch-256 throughput among passing builds"),
                             ("Fastest passing build on this CPU (batch-1 latency)", LATENCY_BATCH,
                              "lowest batch-1 latency among passing builds")):
        f = speed_pick.fastest(cands, batch)
        ship = view.models.get(f.ship.key) if f.ship else None
        out.append((use, ship, _said(f, ref, what)[1]))
    return out


def summary_lines(view: View) -> list[str]:
    """The executive summary's speed lines: what to ship for speed (batch 256, batch 1) and what was not measured."""
    out = []
    if view.bench:
        ref, cands = reference_id(view.bench), candidates(view)
        for label, batch, what in (("Fastest passing build on this CPU", THROUGHPUT_BATCH, "batch 256"),
                                   ("Lowest batch-1 latency on this CPU", LATENCY_BATCH, "batch 1")):
            f = speed_pick.fastest(cands, batch)
            chosen, rule = _said(f, ref, what)
            out.append(f"- **{label}:** " + (f"ship {chosen} ({rule})." if f.top else f"none ({rule})."))
        if view.th.min_speedup is not None:
            failing = [f"`{m.key}`" for m in view.quantized() if speed_failure(m, view.bench, view.th)]
            out.append(f"- **Speed gate** (batch-256 paired speedup vs own fp32 at least {view.th.min_speedup:g}x, "
                       f"`--ptq-min-speedup`): " + (f"failing: {', '.join(failing)}." if failing else "every timed "
                                                    "quantized build passes."))
        unmeasured = [k for k in view.bench if k not in view.models]
        if unmeasured:
            out.append(f"- **Timed but {NOT_MEASURED}:** " + ", ".join(f"`{k}`" for k in unmeasured) + ".")
    return out


def _cpu_line(view: View, cpu: str) -> str:
    host = ((view.data.get("meta") or {}).get("targets") or {}).get("host via the test process", {})
    facts = host.get("cpu") if isinstance(host, Mapping) else None
    return cpu or (isa_summary(dict(facts)) if facts else str((view.data.get("meta") or {}).get("cpu", "?")))


def section(view: View) -> list[str]:
    """## Accuracy × size × speed on this CPU (only when the payload has timings)."""
    if not view.bench:
        return []
    meta = view.data.get("meta") or {}
    ref = reference_id(view.bench)
    out = ["## Accuracy × size × speed on this CPU", "",
           f"Every timed build with its accuracy (from the gate's predictions on the {view.images or 10_000:,} test "
           f"images) and its speed on this CPU ({meta.get('threads', '?')} thread(s) per process). Latency and "
           f"throughput are pytest-benchmark medians; speedups are paired: {paired.METHOD}. A speedup above 1.00x is "
           "faster than the baseline; `*` marks a noisy benchmark.", ""]
    by_cpu: dict[str, dict[str, ModelRecord]] = {}
    for m in view.models.values():
        if m.target == "host":
            by_cpu.setdefault(m.cpu, {})[m.key] = m
    if not by_cpu:
        by_cpu[""] = {}
    for cpu, records in by_cpu.items():
        bench = {k: v for k, v in view.bench.items() if k in records or len(by_cpu) == 1}
        out += [f"### {_cpu_line(view, cpu)}", "", *_md_table(headers(ref), rows(records, bench, view.th, md=True))]
    if any(f.get("noisy") for per in view.bench.values() for f in per.values()):
        from ptq_helpers.analysis.speed import NOISE_NOTE
        out += [NOISE_NOTE, ""]
    if any("†" in cell for row in rows(view.models, view.bench, view.th) for cell in row):
        out += [INTERFERENCE_NOTE, ""]
    unmeasured = [k for k in view.bench if k not in view.models]
    if unmeasured:
        out += [f"Timed, {NOT_MEASURED} (no cached predictions; a benchmark run never evaluates the test set): "
                + ", ".join(f"`{k}`" for k in unmeasured) + ".", ""]
    cands = candidates(view)
    front = speed_pick.pareto(cands)
    out += ["**Pareto-optimal builds** (among builds passing every gate: not dominated on top-1 ↑, size ↓, batch-1 "
            "latency ↓ and batch-256 throughput ↑): "
            + (", ".join(f"`{c.key}` ({c.accuracy:.2f}%, {_kib(c.size_bytes)}, {c.latency_ms * 1e3:,.0f} µs, "
                         f"{c.images_per_s:,.0f} img/s)" for c in front) or "none (no passing build was timed)")
            + ".", ""]
    for use, m, rule in picks(view):
        out.append(f"- **{use}:** {f'`{m.key}`' if m else 'none'}: {rule}.")
    out += ["", f"Tie rule: {speed_pick.TIE_RULE}.", ""]
    if view.th.min_speedup is not None:
        out += [f"Speed gate: every quantized build's batch-256 paired speedup vs its own fp32 must reach "
                f"{view.th.min_speedup:g}x (`--ptq-min-speedup`).", ""]
    return out


def terminal_lines(records: Mapping[str, ModelRecord], bench: Bench, th: Thresholds, view: View | None) -> list[str]:
    """The terminal summary's speed table (the report's columns, aligned), its notes and the speed picks of `view`
    (the run's payload as the report reads it; None when no record was measured)."""
    from ptq_helpers.report.tables import aligned

    body = rows(records, bench, th)
    out = aligned(headers(reference_id(bench)), body)
    if any("†" in cell for row in body for cell in row):
        out.append(INTERFERENCE_NOTE)
    for line in summary_lines(view) if view is not None else []:
        out.append(line.removeprefix("- ").replace("**", "").replace("`", ""))
    return out
