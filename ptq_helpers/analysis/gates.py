"""The pass/fail rules, shared by the tests (which assert) and the summary and report (which show status).

Each gate takes a ModelRecord (quantized ones linked to their fp32 baseline) and returns None when
it passes, else a message naming the model, the measured value, the limit and the option.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ptq_helpers.core.classes import CLASSES
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord
from ptq_helpers.matrix.thresholds import Thresholds


MARGIN = "--ptq-gate-margin"


def top1_lower_bound(correct: int, total: int) -> float:
    """One-sided 95% Clopper-Pearson lower bound of top-1, in percent: the 5% quantile of Beta(k, n - k + 1)
    (scipy.stats.binomtest's exact interval at 90%, checked by tests/selftest/test_multiplicity.py; scipy.special
    imports in a third of the time scipy.stats takes)."""
    from scipy.special import betaincinv

    return 0.0 if correct == 0 else 100 * float(betaincinv(correct, total - correct + 1, 0.05))


def _needs_stats(rec: ModelRecord, th: Thresholds) -> str | None:
    if th.gate_margin == "ci" and rec.stats is None:
        return (f"{rec.where}: {MARGIN}=ci needs the paired statistics of {rec.key} against {rec.baseline_id}, and "
                f"this record has none (it was not compared on the same images); gate it with {MARGIN}=point")
    return None


def accuracy(rec: ModelRecord, th: Thresholds) -> str | None:
    value, what = _gated(th, rec.accuracy, "top-1", lambda: top1_lower_bound(rec.correct, rec.total),
                         "one-sided 95% lower bound of top-1")
    if value > th.min_accuracy:
        return None
    return (f"{rec.where}: {what} {value:.2f}% ({rec.correct}/{rec.total} correct) is not above "
            f"{th.min_accuracy:.2f}% (--ptq-min-accuracy, {MARGIN}={th.gate_margin})")


def _gated(th: Thresholds, point: object, what: str, bound: Callable[[], object], bound_what: str) -> tuple:
    """The value a gate compares with its limit, and its name: the measured point, or under
    --ptq-gate-margin=ci its one-sided 95% bound."""
    return (bound(), bound_what) if th.gate_margin == "ci" else (point, what)


def drop(rec: ModelRecord, th: Thresholds) -> str | None:
    if missing := _needs_stats(rec, th):
        return missing
    value, what = _gated(th, rec.drop, "top-1 drop", lambda: -rec.stats.diff_one_sided_low,
                         "one-sided 95% upper bound of the top-1 drop")
    if value < th.max_drop:
        return None
    return (f"{rec.where}: {what} {value:.2f} points vs {rec.base.key} ({rec.accuracy:.2f}% vs "
            f"{rec.base.accuracy:.2f}%) is not below {th.max_drop:.2f} (--ptq-max-drop, {MARGIN}={th.gate_margin})")


def size_reduction(rec: ModelRecord, th: Thresholds) -> str | None:
    kind = rec.size_kind
    limit = th.size_reductions.get(kind)
    if limit is None:  # the thresholds were written without this record's size kind: a damaged or mixed file
        return (f"{rec.where}: no size-reduction limit for its size kind {kind!r} in these thresholds (known: "
                f"{', '.join(th.size_reductions) or 'none'}); set one with --ptq-min-size-reduction-{kind}")
    if rec.size_reduction >= limit:
        return None
    return (f"{rec.where}: size reduction {rec.size_reduction:.1f}% ({rec.size_bytes:,} vs {rec.base.size_bytes:,} "
            f"bytes of {rec.base.key}) is below {limit:.1f}% (--ptq-min-size-reduction-{kind})")


def class_drop(rec: ModelRecord, th: Thresholds) -> str | None:
    if missing := _needs_stats(rec, th):
        return missing
    drops, what = _gated(th, list(rec.class_drops), "drops",
                         lambda: [-low for low in rec.stats.class_diff_one_sided_low],
                         "drops (one-sided 95% upper bound)")
    worst = max(range(len(drops)), key=drops.__getitem__)
    if drops[worst] <= th.max_class_drop:
        return None
    return (f"{rec.where}: class {CLASSES[worst]!r} {what} {drops[worst]:.1f} points vs {rec.base.key} "
            f"({rec.per_class[worst]:.1f}% vs {rec.base.per_class[worst]:.1f}%), more than "
            f"{th.max_class_drop:.1f} (--ptq-max-class-drop, {MARGIN}={th.gate_margin})")


def fp32_pinned(rec: ModelRecord, th: Thresholds) -> str | None:
    if th.fp32_correct is None or rec.correct == th.fp32_correct:  # None: not the reference model, no pin
        return None
    return (f"{rec.where}: {rec.correct}/{rec.total} correct, pinned fp32 baseline is "
            f"{th.fp32_correct}/{rec.total} (--ptq-fp32-correct)")


EXECUTED = "--ptq-executed-precision"


def integer_execution(rec: ModelRecord, th: Thresholds) -> str | None:
    """A quantized build whose runtime runs some of its compute layers in float (or reports none at all): the
    layers, the CPU, the likely cause and the option. None when every layer runs as an integer kernel or when the
    runtime was not asked (no facts in the record); the caller decides by `th.executed_precision` what it means."""
    ex = rec.executed
    if rec.is_fp32 or ex is None or ex.all_integer:
        return None
    if not ex.layers:
        return (f"{rec.where}: the runtime reported no Conv/Gemm/MatMul layer at all ({ex.how}); the executed-"
                f"precision facts are broken, not the build ({EXECUTED}={th.executed_precision})")
    shown = ", ".join(ex.float[:6]) + (f" and {len(ex.float) - 6} more" if len(ex.float) > 6 else "")
    if ex.emulated:  # an accuracy-only row: say so first, never as if the build were meant to run integer
        return (f"{rec.where}: {ex.emulated}; {len(ex.float)} of {ex.layers} compute layers run in float: {shown} "
                f"({EXECUTED}={th.executed_precision})")
    causes = list(dict.fromkeys(c.split(": ", 1)[-1] for c in ex.causes))
    cause = f"; likely cause: {causes[0]}" + (f" (+{len(causes) - 1} other)" if len(causes) > 1 else "") if causes \
        else ""
    return (f"{rec.where}: {len(ex.float)} of {ex.layers} compute layers run in float, not as integer kernels: "
            f"{shown}{cause} ({EXECUTED}={th.executed_precision}; how the runtime was asked: the record's "
            f"runtime.executed.how)")


def all_failures(rec: ModelRecord, th: Thresholds) -> dict[str, str]:
    """Every gate that applies to a record and failed: gate name -> message (for summary and JSON)."""
    found = {"accuracy": accuracy(rec, th)}
    if rec.is_fp32:
        found["fp32-pin"] = fp32_pinned(rec, th)
    elif rec.compared:
        found.update({"drop": drop(rec, th), "size": size_reduction(rec, th), "class-drop": class_drop(rec, th)})
    if th.executed_precision == "fail" and not rec.is_fp32:
        found["executed"] = integer_execution(rec, th)
    return {name: msg for name, msg in found.items() if msg}


# The gate tests of tests/gates and the gate each one asserts: a session records which of them ran per record key.
GATE_TESTS = {"test_top1_above_minimum": "accuracy", "test_drop_vs_own_fp32": "drop",
              "test_no_class_drops_too_far": "class-drop", "test_fp32_baseline_pinned": "fp32-pin",
              "test_size_reduction": "size", "test_quantized_layers_run_as_integer": "executed"}
Ran = Mapping[str, Iterable[str]]  # record key -> the gates whose test ran in the session


def applicable(rec: ModelRecord, th: Thresholds) -> list[str]:
    """The gates that judge a record (the keys all_failures can return)."""
    names = ["accuracy"] + (["fp32-pin"] if rec.is_fp32 else ["drop", "size", "class-drop"] if rec.compared else [])
    return names + (["executed"] if th.executed_precision == "fail" and not rec.is_fp32 else [])


@dataclass(frozen=True)
class Verdict:
    """A record's gates as a session judged them: the failed ones that ran, and those whose test did not run."""

    failed: dict[str, str]
    not_run: tuple[str, ...] = ()
    applicable: tuple[str, ...] = ()

    def text(self) -> str:
        """'pass', 'FAIL: accuracy', 'not run', or 'pass (ran: size)' when some gates did not run."""
        if self.failed:
            return "FAIL: " + ", ".join(self.failed)
        if self.not_run and set(self.not_run) >= set(self.applicable):
            return "not run"
        ran = [g for g in self.applicable if g not in self.not_run]
        return f"pass (ran: {', '.join(ran)})" if self.not_run else "pass"


def verdict(rec: ModelRecord, th: Thresholds, ran: Ran | None = None) -> Verdict:
    """The record's verdict over the gates that ran (`ran` None: every gate counts). The size gate is tested on
    the host build; its file is the one every target runs, so it counts for the build's other targets too."""
    failed, names = all_failures(rec, th), applicable(rec, th)
    if ran is None:
        return Verdict(failed, (), tuple(names))
    done = set(ran.get(rec.key, ())) | ({"size"} & set(ran.get(rec.id, ())))
    return Verdict({k: v for k, v in failed.items() if k in done}, tuple(n for n in names if n not in done),
                   tuple(names))


def passing(records: Mapping[str, ModelRecord], th: Thresholds, ran: Ran | None = None) -> list[ModelRecord]:
    """Host records of quantized builds (with their fp32 baseline at hand) that pass every gate on the host
    and on every other target measured in the run (every gate that ran, when `ran` says what ran)."""
    failed = {r.id for r in records.values() if r.compared and verdict(r, th, ran).failed}
    judged = lambda r: ran is None or verdict(r, th, ran).text() != "not run"  # noqa: E731 - no gate ran: no pass
    return [r for r in records.values() if r.compared and r.target == "host" and r.id not in failed and judged(r)]


def best_by_framework(records: Mapping[str, ModelRecord], th: Thresholds,
                      ran: Ran | None = None) -> dict[str, ModelRecord]:
    """Per framework, the passing build with the highest top-1 (the smaller file on a tie)."""
    best: dict[str, ModelRecord] = {}
    for r in passing(records, th, ran):
        if r.framework not in best or (r.accuracy, -r.size_bytes) > (
                best[r.framework].accuracy, -best[r.framework].size_bytes):
            best[r.framework] = r
    return best


def full_integer(b: McuBudget) -> str | None:
    if not b.non_integer_ops:
        return None
    return (f"{b.id}: not a full-integer model: float tensors in {', '.join(b.non_integer_ops)}; a micro-controller "
            f"build must be int8 end to end (TFLiteConverter with TFLITE_BUILTINS_INT8 and int8 input/output)")


def _budget(b: McuBudget, what: str, value: float, limit: float, unit: str, flag: str) -> str | None:
    if value <= limit:
        return None
    return f"{b.id}: {what} {value:,.1f} {unit} exceeds {limit:,.1f} {unit} ({flag})"


def mcu_budgets(b: McuBudget, th: Thresholds) -> dict[str, str]:
    """Ethos-U SRAM/flash/CPU-fallback and TFLM arena budgets that failed: name -> message."""
    found = {
        "sram": _budget(b, f"{b.accelerator} SRAM (Vela estimate)", b.sram_bytes / 1024, th.max_sram_kib, "KiB",
                        "--ptq-max-sram-kib"),
        "flash": _budget(b, f"{b.accelerator} off-chip flash (Vela estimate)", b.flash_bytes / 1024,
                         th.max_flash_kib, "KiB", "--ptq-max-flash-kib"),
        "npu-fallback": None if len(b.cpu_fallback_ops) <= th.max_npu_fallback_ops else (
            f"{b.id}: {len(b.cpu_fallback_ops)} operators fall back to the CPU on {b.accelerator} "
            f"({', '.join(b.cpu_fallback_ops)}), more than {th.max_npu_fallback_ops} (--ptq-max-npu-fallback-ops)"),
        "arena": _budget(b, "TFLM tensor arena", b.arena_bytes / 1024, th.max_arena_kib, "KiB", "--ptq-max-arena-kib"),
        "full-integer": full_integer(b),
    }
    return {name: msg for name, msg in found.items() if msg}
