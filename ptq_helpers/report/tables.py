"""The end-of-run terminal tables (results, paired statistics, sweep, speed), as aligned text lines."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord, by_model, in_matrix_order, kib
from ptq_helpers.matrix.thresholds import Thresholds

HEADERS = ("Model", "Framework", "Data type", "Accuracy", "Δ vs fp32", "Size", "Size reduction", "Gates")
STATS_HEADERS = ("Model", "Top-1 agreement", "Only fp32 right", "Only quantized right", "McNemar p", "Holm p",
                 "Δ vs fp32, 95% CI")
SWEEP_HEADERS = ("Model", "Draws", "Mean", "Std", "Min", "Max")


def aligned(headers: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned text columns."""
    widths = [max(len(r[i]) for r in (headers, *body)) for i in range(len(headers))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(headers), fmt(tuple("-" * w for w in widths)), *map(fmt, body)]


def ci_text(rec: ModelRecord) -> str:
    """The paired-bootstrap interval of the accuracy difference, e.g. '[-1.45, -0.69]'."""
    return f"[{rec.stats.diff_ci_low:+.2f}, {rec.stats.diff_ci_high:+.2f}]" if rec.stats else "-"


def rows(records: Mapping[str, ModelRecord], th: Thresholds) -> list[tuple[str, ...]]:
    """One row per model of the matrix that has a record, in matrix order, plus unsupported rows."""
    out: list[tuple[str, ...]] = []
    for case in cases.CASES:
        if case.unsupported:
            out.append((case.id, cases.FRAMEWORK_LABELS[case.framework], cases.DTYPE_LABELS[case.dtype], "N/A",
                        "N/A", "N/A", f"N/A — not supported ({case.unsupported})", "-"))
            continue
        for rec in by_model(records).get(case.id, {}).values():
            delta, reduction = ((f"{-rec.drop:+.2f}", f"{rec.size_reduction:.1f}%") if rec.compared else ("-", "-"))
            failed = gates.all_failures(rec, th)
            status = "FAIL: " + ", ".join(failed) if failed else "pass"
            out.append((rec.key, rec.framework_label, rec.dtype_label, f"{rec.accuracy:.2f}%", delta,
                        kib(rec.size_bytes), reduction, status))
    return out


def table(records: Mapping[str, ModelRecord], th: Thresholds) -> list[str]:
    """The accuracy/size summary as aligned text lines."""
    return aligned(HEADERS, rows(records, th))


def stats_rows(records: Mapping[str, ModelRecord]) -> list[tuple[str, ...]]:
    """Paired statistics of each quantized model against its fp32 baseline, in matrix order."""
    from ptq_helpers.analysis.multiplicity import adjust

    holm, out = adjust(records)["holm"], []
    for rec in in_matrix_order(records):
        if rec.stats is not None:
            st = rec.stats
            out.append((rec.key, f"{st.agreement:.2f}%", str(st.only_fp32_correct), str(st.only_quantized_correct),
                        f"{st.mcnemar_p:.3g}", f"{holm[rec.key]:.3g}", ci_text(rec)))
    return out


def sweep_rows(sweep: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Accuracy spread over calibration draws, in matrix order."""
    return [(c.id, str(sw["draws"]), f"{sw['mean']:.2f}%", f"{sw['std']:.2f}", f"{sw['min']:.2f}%", f"{sw['max']:.2f}%")
            for c in cases.CASES if (sw := sweep.get(c.id))]


def target_headers(targets: tuple[str, ...]) -> tuple[str, ...]:
    return ("Model", *(f"{t} top-1 (Δ vs fp32, gates)" for t in targets), "Agreement with host",
            "Largest target Δ", "Identical on every target")


def target_rows(records: Mapping[str, ModelRecord], th: Thresholds, targets: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Per model: accuracy, drop and gate status on every target; top-1 agreement of each other target with
    the host, the largest accuracy difference between targets, and whether predictions are identical."""
    out = []
    for case in cases.CASES:
        mine = by_model(records).get(case.id, {})
        if len(mine) < 2:
            continue
        cells = [case.id]
        for t in targets:
            r = mine.get(t)
            status = ("FAIL: " + ", ".join(gates.all_failures(r, th)) if gates.all_failures(r, th) else "pass") if r else ""
            cells.append(f"{r.accuracy:.2f}% ({-r.drop:+.2f}, {status})" if r and r.compared
                         else f"{r.accuracy:.2f}% ({status})" if r else "-")
        others = [r for r in mine.values() if r.vs_host is not None]
        accs = [r.accuracy for r in mine.values()]
        cells.append(", ".join(f"{r.target} {r.vs_host.agreement:.2f}% ({r.vs_host.differing} differ)" for r in others)
                     or "-")
        cells += [f"{max(accs) - min(accs):.2f} points",
                  "yes" if others and all(r.vs_host.differing == 0 for r in others) else "no" if others else "-"]
        out.append(tuple(cells))
    return out


MCU_HEADERS = ("Model", "Inference (est.)", "NPU cycles", "SRAM", "Flash", "CPU ops", "TFLM arena", "Budgets")


def mcu_rows(budgets: Mapping[str, McuBudget], th: Thresholds) -> list[tuple[str, ...]]:
    out = []
    for b in budgets.values():
        failed = gates.mcu_budgets(b, th)
        out.append((b.id, f"{b.inference_time_ms:.3f} ms", f"{b.cycles_npu:,}", kib(b.sram_bytes), kib(b.flash_bytes),
                    str(len(b.cpu_fallback_ops)), f"{b.arena_bytes:,} B",
                    "FAIL: " + ", ".join(failed) if failed else "pass"))
    return out
