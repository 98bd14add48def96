"""The end-of-run terminal summary of a PTQSession: the results table (with the executed precision and every
build's float-layer line), the targets, the paired statistics, budgets, sweeps, speed, and what was written."""
from __future__ import annotations

import textwrap
from collections import Counter
from typing import Any

from ptq_helpers.analysis import gates, recipe, speed
from ptq_helpers.core.isa import cpu_facts, summary
from ptq_helpers.matrix import cases
from ptq_helpers.report import payload as results, speed as speed_table, tables
from ptq_helpers.report.sections import View
from ptq_helpers.targets.registry import TARGETS


def built_summary(events: list[Any]) -> str:
    """What this run built (not reused), in one short line: each item when few, else counts by kind (every
    item is in the JSON's meta.built)."""
    built = Counter(f"{e.case} {e.what}" for e in events if e.built)
    if not built:
        return "nothing (all reused from the cache)"
    if len(built) <= 6:
        return ", ".join(f"{k} x{n}" for k, n in sorted(built.items()))
    kinds = Counter(e.what.split(" (")[0] for e in events if e.built)
    reused = sum(1 for e in events if not e.built)
    return (", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
            + f" ({reused} reused; each one in --ptq-json's meta.built)")


MORE = " [...] (in full: --ptq-report)"


def fit(line: str, width: int) -> str:
    """A detail line shortened to the terminal's width (the report and the JSON have it in full)."""
    return line if len(line) <= width else textwrap.shorten(line, max(width, 40), placeholder=MORE)


def wrapped(line: str, width: int) -> list[str]:
    """A verdict line folded to the terminal's width (nothing left out)."""
    return textwrap.wrap(line, max(width, 40), subsequent_indent="    ", break_on_hyphens=False) or [line]


def write(session: Any, tr: Any) -> None:
    """Write the summary of a PTQSession (`session`) with pytest's terminal reporter `tr`; tables as they are,
    detail lines fitted to the terminal's width."""
    width = max(120, getattr(getattr(tr, "_tw", None), "fullwidth", 120))  # piped output reports 80
    write_line = tr.write_line

    def detail(line: str, **kw: Any) -> None:  # a detail line (the report has it in full), fitted to the terminal
        write_line(fit(line, width), **kw)

    if session.progress:
        session.progress.stop()
    session.results.order = (tuple(c.id for c in (*cases.CASES, *session.run_cases)), tuple(TARGETS))
    records, res = session.results.linked_records(), session.results
    if records:
        tr.write_sep("=", "resnet8-ptq results (10,000 CIFAR-10 test images)")
        ran = session.results.ran or None
        for line in tables.table(records, session.thresholds, results.unsupported(), ran):
            tr.write_line(line)
        for line in tables.unsupported_notes(results.unsupported()):
            detail(line)
        for ref in res.references.values():
            detail(f"reference {ref.id} on {ref.kernels or ref.target}: {ref.accuracy:.2f}% "
                   f"({ref.correct}/{ref.total}), {ref.size_bytes / 1024:.1f} KiB - {ref.note}")
        odd = results.suspicious(records, session.cpu_noops())
        for line in odd["models"]:
            detail(f"SUSPICIOUS: {line}: a setting that should change the model had no effect")
        for line in odd["predictions"] + odd["expected"]:
            detail(f"NOTE: {line}")
        for rec in records.values():  # every build whose runtime runs layers in float, as the runtime says
            fallback = gates.integer_execution(rec, session.thresholds)
            if fallback:
                detail(("FAIL" if session.thresholds.executed_precision == "fail" else "FLOAT LAYERS")
                       + f": {fallback}", red=session.thresholds.executed_precision == "fail")
        if len(session.settings.targets) > 1:
            tr.write_sep("-", "deployment targets: " + "; ".join(
                f"{name}: {TARGETS[name].here()}" for name in session.settings.targets if name != "host"))
            body = tables.target_rows(records, session.thresholds, session.settings.targets, ran)
            for line in tables.aligned(tables.target_headers(session.settings.targets), body):
                tr.write_line(line)
            for r in records.values():  # e.g. Arm: fp32 checked by the probe only, the host's predictions stand
                for what, note in (r.runtime or {}).items() if r.target != "host" else ():
                    if what != "executed":  # said by the Executed column and the FLOAT LAYERS lines
                        detail(f"NOTE: {r.key}: {what}: {note}")
        paired = tables.stats_rows(records)
        if paired:
            tr.write_sep("-", "paired statistics vs fp32 on the same 10,000 images (McNemar exact, Holm-adjusted over "
                             "the run; bootstrap: 2,000 resamples)")
            for line in tables.aligned(tables.STATS_HEADERS, paired):
                tr.write_line(line)
    if res.mcu:
        tr.write_sep("-", "micro-controller budgets (Vela estimate for the Ethos-U55-128; TFLM tensor arena)")
        for line in tables.aligned(tables.MCU_HEADERS, tables.mcu_rows(res.mcu, session.thresholds)):
            tr.write_line(line)
    if res.sweep:
        draws = max(sw["draws"] for sw in res.sweep.values())
        s = session.settings
        tr.write_sep("-", f"calibration-draw sweep ({draws} draws of {s.per_class}/class, seed {s.seed} stream)")
        for line in tables.aligned(tables.SWEEP_HEADERS, tables.sweep_rows(res.sweep, records)):
            tr.write_line(line)
    if res.recipe:
        draws = max(r["draws"] for r in res.recipe.values())
        tr.write_sep("-", f"recipe-level uncertainty ({draws} calibration draws besides draw 0; "
                          f"{recipe.METHOD.split(':')[0]})")
        for line in tables.aligned(tables.RECIPE_HEADERS, tables.recipe_rows(res.recipe, records)):
            tr.write_line(line)
    if res.bench:
        tr.write_sep("-", f"resnet8-ptq accuracy x size x speed ({summary(cpu_facts())}, {session.settings.threads} "
                          f"threads; medians; speedups: paired median ratio [95% interval])")
        view = View(session.payload()) if records else None
        for line in speed_table.terminal_lines(records, res.bench, session.thresholds, view):
            tr.write_line(line)
        if any(f.get("noisy") for per_batch in res.bench.values() for f in per_batch.values()):
            tr.write_line(speed.NOISE_NOTE)
        ref_id, ref = next(((k, per[str(speed.THROUGHPUT_BATCH)]) for k, per in res.bench.items()
                            if "bare_loop_median_ms" in per.get(str(speed.THROUGHPUT_BATCH), {})), ("", None))
        if ref:
            tr.write_line(f"benchmark overhead: {ref_id} batch {speed.THROUGHPUT_BATCH} median {ref['median_ms']:.2f} "
                          f"ms vs bare session.run loop {ref['bare_loop_median_ms']:.2f} ms "
                          f"({ref['overhead_pct']:+.1f}%)")
    if session.mixed:
        tr.write_sep("!", "resnet8-ptq: the xdist workers ran on different kinds of CPU", red=True)
        for line in session.mixed:
            tr.write_line(f"  {line}", red=True)
        tr.write_line("Results of different machines are not one gate: give --tx only hosts of one kind, run each "
                      "kind separately with --ptq-json, and compare them with "
                      "python -m ptq_helpers.report A.json B.json -o machines.md", red=True)
    if records or res.bench:
        tr.write_line(f"built this run: {built_summary(res.events)}; cache {session.settings.cache}")
    for line in session.closing:  # verdicts folded to the width; paths (files written) never broken
        verdict = line.startswith(("REGRESSION", "THRESHOLD", "ENVIRONMENT", "NEW ", "against --ptq-baseline"))
        for part in wrapped(line, width) if verdict else [line]:
            write_line(part, red=line.startswith(("REGRESSION", "--ptq-")))
