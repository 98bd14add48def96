"""The end-of-run terminal tables (results, paired statistics, sweep, speed), as aligned text lines."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord, by_model, in_matrix_order, kib
from ptq_helpers.matrix.thresholds import Thresholds

HEADERS = ("Model", "Framework", "Data type", "Accuracy", "Δ vs fp32", "Size", "Size reduction", "Executed", "Gates")
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


def executed_text(rec: ModelRecord) -> str:
    """The Executed column: how many compute layers the runtime runs as integer kernels ('integer 10/10',
    'integer 5/10, 5 float'), 'not asked' for a quantized build whose runtime was not asked, '-' for fp32."""
    if rec.executed is not None:
        return rec.executed.summary()
    return "-" if rec.is_fp32 else "not asked"


def unsupported_row(entry: Mapping[str, Any], records: Mapping[str, ModelRecord]) -> tuple[str, ...]:
    """The results row of a case the backend cannot build (an entry of the JSON's `unsupported` list)."""
    return (entry["id"], framework_label(entry, records), dtype_label(entry, records), "N/A", "N/A", "N/A",
            f"N/A — not supported ({entry['reason']})", "-", "-")


def framework_label(entry: Mapping[str, Any], records: Mapping[str, ModelRecord]) -> str:
    """How an `unsupported` (or reference) entry's framework is named: its own label, else the label its
    framework's records carry, else the raw id."""
    label = entry.get("framework_label") or next(
        (r.framework_label for r in records.values() if r.framework == entry.get("framework")), None)
    return label or str(entry.get("framework", "?"))


def dtype_label(entry: Mapping[str, Any], records: Mapping[str, ModelRecord]) -> str:
    """How an entry's data type is named: its own label, else the label records of that type carry, else the raw id."""
    label = entry.get("dtype_label") or next(
        (r.dtype_label for r in records.values() if r.dtype == entry.get("dtype")), None)
    return label or str(entry.get("dtype", "?"))


def with_unsupported(body: list[tuple[str, ...]], frameworks: list[str], unsupported: Sequence[Mapping[str, Any]],
                     records: Mapping[str, ModelRecord]) -> list[tuple[str, ...]]:
    """The rows with each unsupported case's row after the last row of its framework (`frameworks[i]` is row
    i's), or at the end when its framework has none: the matrix's place for the seed matrix."""
    out, owners = list(body), list(frameworks)
    for entry in unsupported:
        fw = entry.get("framework")
        at = max((i + 1 for i, owner in enumerate(owners) if owner == fw), default=len(out))
        out.insert(at, unsupported_row(entry, records))
        owners.insert(at, fw)
    return out


def rows(records: Mapping[str, ModelRecord], th: Thresholds,
         unsupported: Sequence[Mapping[str, Any]] = ()) -> list[tuple[str, ...]]:
    """One row per record, in the order the records come (the writer's matrix order), plus a row per
    unsupported case (the JSON's `unsupported` entries: id, framework, dtype, reason and their labels)."""
    body, owners = [], []
    for rec in in_matrix_order(records):
        delta, reduction = ((f"{-rec.drop:+.2f}", f"{rec.size_reduction:.1f}%") if rec.compared else ("-", "-"))
        failed = gates.all_failures(rec, th)
        status = "FAIL: " + ", ".join(failed) if failed else "pass"
        body.append((rec.key, rec.framework_label, rec.dtype_label, f"{rec.accuracy:.2f}%", delta,
                     kib(rec.size_bytes), reduction, executed_text(rec), status))
        owners.append(rec.framework)
    return with_unsupported(body, owners, unsupported, records)


def table(records: Mapping[str, ModelRecord], th: Thresholds,
          unsupported: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """The accuracy/size summary as aligned text lines."""
    return aligned(HEADERS, rows(records, th, unsupported))


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


def sweep_rows(sweep: Mapping[str, Mapping[str, Any]],
               records: Mapping[str, ModelRecord] | None = None) -> list[tuple[str, ...]]:
    """Accuracy spread over calibration draws, in the records' order (models without a record last)."""
    order = dict.fromkeys([*(r.id for r in in_matrix_order(records or {})), *sweep])
    return [(mid, str(sw["draws"]), f"{sw['mean']:.2f}%", f"{sw['std']:.2f}", f"{sw['min']:.2f}%", f"{sw['max']:.2f}%")
            for mid in order if (sw := sweep.get(mid))]


RECIPE_HEADERS = ("Model", "Draw 0", "Draws", "Mean", "Sd", "Worst", "Mean Δ vs fp32", "95% interval (draws x images)",
                  "Why re-drawn")


def recipe_rows(recipes: Mapping[str, Mapping[str, Any]],
                records: Mapping[str, ModelRecord] | None = None) -> list[tuple[str, ...]]:
    """Recipe-level uncertainty per re-drawn build, in the records' order."""
    order = dict.fromkeys([*(r.id for r in in_matrix_order(records or {})), *recipes])
    return [(mid, f"{r['draw0']:.2f}%", str(r["draws"]), f"{r['mean']:.2f}%", f"{r['sd']:.2f}", f"{r['worst']:.2f}%",
             f"{r['delta_mean']:+.2f}", f"{r['interval'][0]:.2f}–{r['interval'][1]:.2f}% "
             f"(Δ {r['delta_interval'][0]:+.2f} to {r['delta_interval'][1]:+.2f})", r.get("why", ""))
            for mid in order if (r := recipes.get(mid))]


def target_headers(targets: tuple[str, ...]) -> tuple[str, ...]:
    return ("Model", *(f"{t} top-1 (Δ vs fp32, gates)" for t in targets), "Agreement with host",
            "Largest target Δ", "Identical on every target")


def target_rows(records: Mapping[str, ModelRecord], th: Thresholds, targets: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Per model: accuracy, drop and gate status on every target; top-1 agreement of each other target with
    the host, the largest accuracy difference between targets, and whether predictions are identical."""
    out = []
    for model_id, mine in by_model(records).items():
        if len(mine) < 2:
            continue
        cells = [model_id]
        for t in targets:
            r = mine.get(t)
            failed = gates.all_failures(r, th) if r else []
            status = ("FAIL: " + ", ".join(failed) if failed else "pass") if r else ""
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
