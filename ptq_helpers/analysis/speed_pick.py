"""Speed in the decision: the Pareto-optimal builds, the fastest build with its tie rule, and the opt-in speed gate.

Pure functions of the measured numbers (the results JSON's records and `benchmarks`), shared by the report, the
terminal summary and the speed gate's test.

The tie rule (stated in the report): every build's speed is a paired ratio to the same reference fp32 build
(`vs_reference`, timed alternately with it in one process; analysis.paired). The fastest build is the one with the
highest median ratio; a build whose 95% interval reaches the fastest's interval (its upper end at or above the
fastest's lower end) cannot be separated from it, and the verdict is a **tie**. Overlapping intervals are the
conservative reading: two builds whose intervals do not overlap differ at least at the 95% level of each. Among
tied builds the one shipped is the most accurate (then the smaller file).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ptq_helpers.analysis.speed import LATENCY_BATCH, THROUGHPUT_BATCH

OPTION = "--ptq-min-speedup"
TIE_RULE = ("the fastest build is the one with the highest paired speedup vs the common reference fp32 (median of "
            "per-pair ratios); a build whose 95% interval reaches the fastest's interval (its upper end at or above "
            "the fastest's lower end) cannot be separated from it: a **tie**, and the most accurate of the tied "
            "builds (then the smaller file) is the one to ship")


@dataclass(frozen=True)
class Candidate:
    """One build's numbers for the speed decision."""

    key: str
    accuracy: float
    size_bytes: int
    latency_ms: float | None = None  # batch-1 median
    images_per_s: float | None = None  # batch-256 median throughput
    vs_reference: Mapping[str, Mapping[str, Any]] | None = None  # batch ("1", "256") -> paired figures


def dominates(a: Candidate, b: Candidate) -> bool:
    """a is at least as good as b on accuracy (higher), size (smaller), batch-1 latency (lower) and batch-256
    throughput (higher), and strictly better on one of them."""
    ge = (a.accuracy >= b.accuracy, a.size_bytes <= b.size_bytes, a.latency_ms <= b.latency_ms,
          a.images_per_s >= b.images_per_s)
    gt = (a.accuracy > b.accuracy, a.size_bytes < b.size_bytes, a.latency_ms < b.latency_ms,
          a.images_per_s > b.images_per_s)
    return all(ge) and any(gt)


def pareto(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates (with both timings) that no other candidate dominates, in the given order."""
    timed = [c for c in candidates if c.latency_ms is not None and c.images_per_s is not None]
    return [c for c in timed if not any(dominates(o, c) for o in timed if o is not c)]


@dataclass(frozen=True)
class Fastest:
    """The fastest build at one batch size and how sure that is."""

    batch: int
    top: Candidate | None
    verdict: str  # "clear", "tie", "single" (one candidate), "no interval" (ranked by medians only), "none"
    tied: tuple[Candidate, ...] = ()  # the top and every build it cannot be separated from (verdict "tie")
    ship: Candidate | None = None  # the top, or by the secondary rule the most accurate of the tied

    def ratio_text(self, c: Candidate) -> str:
        fig = (c.vs_reference or {}).get(str(self.batch))
        return ratio_text(fig) if fig else "-"


def ratio_text(fig: Mapping[str, Any] | None) -> str:
    """'1.84x [1.79, 1.90]' from paired figures (or '-')."""
    if not fig:
        return "-"
    lo, hi = fig["ci"]
    return f"{fig['ratio']:.2f}x [{lo:.2f}, {hi:.2f}]"


def fastest(candidates: Sequence[Candidate], batch: int = THROUGHPUT_BATCH) -> Fastest:
    """The fastest passing build at `batch` by the tie rule (module doc). Builds without a paired ratio vs the
    reference are ranked by their pytest-benchmark median alone (verdict "no interval") only when none has one."""
    key = str(batch)
    paired = [c for c in candidates if (c.vs_reference or {}).get(key)]
    if not paired:
        def speed(c: Candidate) -> float | None:
            return c.images_per_s if batch == THROUGHPUT_BATCH else (1 / c.latency_ms if c.latency_ms else None)
        timed = [c for c in candidates if speed(c)]
        top = max(timed, key=lambda c: speed(c) or 0.0, default=None)
        return Fastest(batch, top, "no interval" if top else "none", ship=top)
    ranked = sorted(paired, key=lambda c: c.vs_reference[key]["ratio"], reverse=True)
    top = ranked[0]
    if len(ranked) == 1:
        return Fastest(batch, top, "single", (top,), top)
    low = top.vs_reference[key]["ci"][0]
    tied = tuple(c for c in ranked if c is top or c.vs_reference[key]["ci"][1] >= low)
    if len(tied) == 1:
        return Fastest(batch, top, "clear", tied, top)
    ship = max(tied, key=lambda c: (c.accuracy, -c.size_bytes))
    return Fastest(batch, top, "tie", tied, ship)


def speed_gate(where: str, batch: int, fig: Mapping[str, Any] | None, limit: float | None) -> str | None:
    """None when the build's paired batch throughput vs its own runtime's fp32 (median ratio) reaches `limit`
    (or no limit is set), else the failure: both throughputs, the ratio with its interval, the limit, the option."""
    if limit is None:
        return None
    if not fig:
        return (f"{where}: no paired batch-{batch} timing against its fp32 baseline, so {OPTION}={limit:g} cannot be "
                f"checked; run it without -n and without --benchmark-skip/--benchmark-disable")
    if fig["ratio"] >= limit:
        return None
    lo, hi = fig["ci"]
    return (f"{where}: batch-{batch} throughput {fig['model_images_per_s']:,.0f} img/s vs "
            f"{fig['baseline_images_per_s']:,.0f} img/s of {fig['baseline']}: speedup {fig['ratio']:.2f}x "
            f"(95% interval [{lo:.2f}, {hi:.2f}], {fig['pairs']} paired rounds) is below {limit:g}x ({OPTION})")


__all__ = ["Candidate", "Fastest", "LATENCY_BATCH", "OPTION", "THROUGHPUT_BATCH", "TIE_RULE", "dominates", "fastest",
           "pareto", "ratio_text", "speed_gate"]
