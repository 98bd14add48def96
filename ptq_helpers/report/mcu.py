"""The report's micro-controller section: every build with micro-controller budgets (the JSON's `mcu`), its top-1 on
TensorFlow Lite Micro's kernels (its `@mcu` record; the host's when the run had no mcu target), TFLM arena, Vela's
flash, SRAM, NPU share and cycles; the accuracy/flash and accuracy/SRAM Pareto fronts; which build fits which
memory budget; and a figure of accuracy vs flash and vs SRAM. Rendered from the results payload only."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report.sections import _table
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord, load_all


@dataclass(frozen=True)
class McuBuild:
    """One build's budgets joined with its accuracy record (on `mcu` when measured there)."""

    budget: McuBudget
    record: ModelRecord | None
    failed: Mapping[str, str]  # accuracy gates and budgets that failed, name -> message

    @property
    def id(self) -> str:
        return self.budget.id

    @property
    def accuracy(self) -> float | None:
        return self.record.accuracy if self.record else None

    @property
    def flash_kib(self) -> float:
        return self.budget.flash_bytes / 1024

    @property
    def sram_kib(self) -> float:
        return self.budget.sram_bytes / 1024

    @property
    def npu_share(self) -> float:
        total = self.budget.npu_ops + len(self.budget.cpu_fallback_ops)
        return self.budget.npu_ops / total if total else 0.0


def builds(data: Mapping[str, Any]) -> list[McuBuild]:
    """Every build of the payload's `mcu` budgets, with its TFLM record (else the host's) and its failed gates."""
    th = Thresholds.from_json(data["thresholds"])
    records = load_all(data["models"])
    found = []
    for entry in (data.get("mcu") or {}).values():
        budget = McuBudget.from_json({k: v for k, v in entry.items() if k != "gates"})
        record = records.get(f"{budget.id}@mcu") or records.get(budget.id)
        failed = {**(gates.all_failures(record, th) if record else {}), **gates.mcu_budgets(budget, th)}
        found.append(McuBuild(budget, record, failed))
    return found


def pareto(found: Sequence[McuBuild], cost: str) -> list[McuBuild]:
    """The builds no other build beats on both accuracy and `cost` ('flash_kib' or 'sram_kib'), by cost."""
    scored = [b for b in found if b.accuracy is not None]
    front = [b for b in scored if not any(
        getattr(o, cost) <= getattr(b, cost) and o.accuracy >= b.accuracy
        and (getattr(o, cost) < getattr(b, cost) or o.accuracy > b.accuracy) for o in scored)]
    return sorted(front, key=lambda b: getattr(b, cost))


def fits(found: Sequence[McuBuild], th: Thresholds) -> list[tuple[str, str, str]]:
    """(memory budget, builds that fit it and pass every other gate, the most accurate of them) for the run's SRAM
    budget and each build's own need, on the Ethos-U55 (Vela SRAM) and on a Cortex-M alone (TFLM arena)."""
    rows = []
    for kind, need, skip in (("Ethos-U55 SRAM (Vela)", "sram_kib", "sram"),
                             ("Cortex-M RAM (TFLM arena)", "arena", "arena")):
        amount = (lambda b: b.sram_kib) if need == "sram_kib" else (lambda b: b.budget.arena_bytes / 1024)  # noqa: E731
        limit = th.max_sram_kib if need == "sram_kib" else th.max_arena_kib
        # on a Cortex-M alone Vela's NPU numbers do not apply: only the accuracy gates, arena, flash and integer ops
        ignore = {skip} | ({"sram", "npu-fallback"} if need == "arena" else {"arena"})
        usable = [b for b in found if b.accuracy is not None and not set(b.failed) - ignore]
        for kib in sorted({float(limit), *(float(math.ceil(amount(b))) for b in usable)}):
            fit = [b for b in usable if amount(b) <= kib]
            best = max(fit, key=lambda b: (b.accuracy, -b.flash_kib), default=None)
            rows.append((f"{kind} ≤ {kib:g} KiB" + (" (the run's budget)" if kib == limit else ""),
                         ", ".join(f"`{b.id}`" for b in fit) or "none",
                         f"`{best.id}` ({best.accuracy:.2f}%)" if best else "-"))
    return rows


def section(data: Mapping[str, Any], figure: str | None = None) -> list[str]:
    """The Markdown section (empty without micro-controller budgets)."""
    found = builds(data)
    if not found:
        return []
    th = Thresholds.from_json(data["thresholds"])
    front = {cost: {b.id for b in pareto(found, cost)} for cost in ("flash_kib", "sram_kib")}
    rows = []
    for b in sorted(found, key=lambda b: b.flash_kib):
        rec = b.record
        where = "TFLM" if rec and rec.target == "mcu" else ("host" if rec else "-")
        on = [name for name, cost in (("flash", "flash_kib"), ("SRAM", "sram_kib")) if b.id in front[cost]]
        rows.append((f"`{b.id}`", rec.dtype_label if rec else "-",
                     f"{b.accuracy:.2f}% ({where})" if b.accuracy is not None else "not evaluated",
                     f"{-rec.drop:+.2f}" if rec and rec.compared else "-", f"{rec.size_bytes:,} B" if rec else "-",
                     f"{b.budget.arena_bytes:,} B", f"{b.flash_kib:.1f} KiB", f"{b.sram_kib:.1f} KiB",
                     f"{b.npu_share:.0%} ({b.budget.npu_ops} NPU, {len(b.budget.cpu_fallback_ops)} CPU)",
                     f"{b.budget.cycles_npu:,}", ", ".join(on) or "-",
                     "pass" if not b.failed else "**fail**: " + ", ".join(b.failed)))
    out = ["## Micro-controller builds: accuracy vs flash and SRAM", "",
           "Every build with micro-controller budgets: top-1 on TensorFlow Lite Micro's reference kernels over the "
           "whole test set (the host's when the run had no `mcu` target), the file, TFLM's tensor arena, and Vela's "
           f"estimate for the {found[0].budget.accelerator} (flash, SRAM, the share of operators on the NPU, NPU "
           "cycles per inference). Pareto: no other build is at least as accurate with no more flash (or SRAM), and "
           "better in one.", "",
           *_table(("Build", "Data type", "Top-1", "Δ vs fp32", "File", "TFLM arena", "Flash", "SRAM", "NPU share",
                    "NPU cycles", "Pareto (accuracy vs)", "Gates and budgets"), rows)]
    if figure:
        out += [f"![Accuracy vs flash and vs SRAM]({figure})", ""]
    out += ["Which build fits which memory budget (every other gate and budget holding: accuracy, drop, per-class, "
            f"flash ≤ {th.max_flash_kib:g} KiB, integer end to end; on the Ethos-U55 also no CPU operator):", "",
            *_table(("Budget", "Builds that fit", "Most accurate"), fits(found, th))]
    return out


def draw(data: Mapping[str, Any], folder: Path, stem: str, plt: Any) -> dict[str, Path]:
    """Accuracy vs Vela flash and vs Vela SRAM, one point per build, the Pareto front joined, the budgets as lines;
    {'mcu': path}, or {} without micro-controller budgets."""
    from ptq_helpers.core.fileio import atomic_path

    found = [b for b in builds(data) if b.accuracy is not None]
    if not found:
        return {}
    th = Thresholds.from_json(data["thresholds"])
    path = folder / f"{stem}-mcu.png"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, cost, label, limit in ((axes[0], "flash_kib", "Vela flash (KiB)", th.max_flash_kib),
                                   (axes[1], "sram_kib", "Vela SRAM (KiB)", th.max_sram_kib)):
        for i, b in enumerate(sorted(found, key=lambda b: getattr(b, cost))):  # neighbours' labels above and below
            ax.scatter(getattr(b, cost), b.accuracy, s=50, marker="o" if not b.failed else "x")
            ax.annotate(b.id, (getattr(b, cost), b.accuracy), textcoords="offset points",
                        xytext=(5, 4 if i % 2 else -11),
                        fontsize=8)
        front = pareto(found, cost)
        ax.step([getattr(b, cost) for b in front], [b.accuracy for b in front], where="post", color="black",
                linewidth=1, label="Pareto front")
        ax.axvline(limit, color="red", linestyle=":", linewidth=1, label=f"budget {limit:g} KiB")
        ax.axhline(th.min_accuracy, color="grey", linestyle="--", linewidth=1,
                   label=f"accuracy gate {th.min_accuracy:g}%")
        ax.set_xlabel(label)
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel("top-1 on TFLite Micro (%), the host's where not run there")
    fig.suptitle("Micro-controller builds (x: fails a gate or budget)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return {"mcu": path}
