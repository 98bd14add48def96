"""NEW against OLD, judged: what changed besides the models, one row per model (answers identical or changed, the
flipped images), and verdicts that name their cause (see ptq_helpers.compare, which prints them)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.analysis.changes import Change, changes, environment, threshold_changes
from ptq_helpers.analysis.flips import Flips, flips
from ptq_helpers.core.provenance import describe
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.results.json_io import test_labels
from ptq_helpers.results.record import ModelRecord, load_all

CLI_FLAGS = {"max_accuracy_loss": "--max-accuracy-loss", "max_size_growth": "--max-size-growth",
             "max_slowdown": "--max-slowdown", "allow_missing": "--allow-missing",
             "environment_change": "--environment-change=fail"}


@dataclass(frozen=True)
class Limits:
    """How much worse NEW may be than OLD before it counts as a regression; `flags` names the options that set
    them where the verdict is printed (this CLI's, or pytest's --ptq-... for --ptq-baseline)."""

    max_accuracy_loss: float = 0.5  # top-1 points
    max_size_growth: float = 5.0  # percent
    max_slowdown: float = 25.0  # percent of batch-256 throughput (as tox -e bench)
    allow_missing: bool = False
    environment_change: str = "report"  # "fail": an environment change alone is a regression
    flags: Mapping[str, str] = field(default_factory=lambda: dict(CLI_FLAGS))


@dataclass(frozen=True)
class Verdict:
    """One judged line: `kind` REGRESSION, THRESHOLD, ENVIRONMENT or NEW; `key` the model (or '' for the run)."""

    kind: str
    key: str
    text: str

    def line(self) -> str:
        return f"{self.kind} {self.key + ': ' if self.key else ''}{self.text}"


def _throughput(data: Mapping[str, Any], key: str) -> float | None:
    fig = (data.get("benchmarks") or {}).get(key, {}).get("256")
    return float(fig["images_per_s"]) if fig else None


def _answers(old: ModelRecord, new: ModelRecord, labels: Any) -> tuple[str, Flips | None]:
    """Whether the two records answered the same on every test image (with the flips when they did not)."""
    from scipy.stats import binomtest

    po, pn = old.predicted(), new.predicted()
    if po is not None and pn is not None and labels is not None and len(po) == len(pn) == len(labels):
        found = flips(po, pn, labels)
        return found.summary(), found
    a, b = old.correct_mask(), new.correct_mask()
    if a is None or b is None or len(a) != len(b):
        return "no per-image results", None
    only_old, only_new = int((a & ~b).sum()), int((~a & b).sum())
    if only_old + only_new == 0:
        return ("identical answers" if old.predictions_sha256 == new.predictions_sha256 else
                "the same images right, some wrong answers changed class"), None
    p = binomtest(only_old, only_old + only_new, 0.5).pvalue
    return f"{only_old} only old right, {only_new} only new right, McNemar p {p:.3g}", None


@dataclass(frozen=True)
class Row:
    """One model of OLD against NEW (new None: not run in NEW; old None: new in NEW)."""

    key: str
    old: ModelRecord | None
    new: ModelRecord | None
    growth: float = 0.0
    speed: tuple[float | None, float | None] = (None, None)
    answers: str = ""
    flips: Flips | None = None

    def text(self) -> str:
        o, n = self.old, self.new
        if n is None:
            return f"{self.key}: in OLD, not run in NEW"
        if o is None:
            return f"{self.key}: new in NEW, top-1 {n.accuracy:.2f}%, size {n.size_bytes:,} B"
        drop = "" if n.is_fp32 or o.drop is None or n.drop is None else \
            f", Δ vs fp32 {-o.drop:+.2f} → {-n.drop:+.2f} points"
        before, after = self.speed
        fast = (f", batch 256 {before:,.0f} → {after:,.0f} img/s ({100 * (after / before - 1):+.1f}%)"
                if before and after else "")
        return (f"{self.key}: top-1 {o.accuracy:.2f}% → {n.accuracy:.2f}% ({n.accuracy - o.accuracy:+.2f}){drop}, "
                f"size "
                f"{o.size_bytes:,} → {n.size_bytes:,} B ({self.growth:+.1f}%){fast}; {self.answers}")


@dataclass
class Comparison:
    """NEW against OLD: what changed, one row per model, the flips and the verdicts."""

    changed: list[Change]
    rows: list[Row]
    verdicts: list[Verdict]
    classes: list[str]
    provenance: tuple[list[str], list[str]] = ([], [])

    @property
    def regressions(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.kind == "REGRESSION"]


def _threshold_cause(o: ModelRecord, n: ModelRecord, th_old: Thresholds, th_new: Thresholds,
                     moved: Mapping[str, Change]) -> tuple[dict[str, str], dict[str, str]]:
    """(gates NEW fails by OLD's thresholds too: the model's doing; gates NEW fails only by NEW's thresholds)."""
    failed_new = gates.all_failures(n, th_new)
    by_old = gates.all_failures(n, th_old)
    failed_then = gates.all_failures(o, th_old)
    model = {g: m for g, m in by_old.items() if g not in failed_then}
    limit = {g: m for g, m in failed_new.items() if g not in by_old and g not in failed_then} if moved else {}
    return model, limit


def compare_runs(old: Mapping[str, Any], new: Mapping[str, Any], limits: Limits) -> Comparison:
    """The comparison of NEW against OLD, every verdict with its cause."""
    before, after = load_all(old["models"]), load_all(new["models"])
    th_new, th_old = Thresholds.from_json(new["thresholds"]), Thresholds.from_json(old["thresholds"])
    changed = changes(old, new)
    moved = threshold_changes(changed)
    labels = test_labels(new) if test_labels(old) is not None else None
    f = limits.flags
    found: list[Row] = []
    verdicts: list[Verdict] = []
    for key, o in before.items():
        n = after.get(key)
        if n is None:
            found.append(Row(key, o, None))
            if not limits.allow_missing:
                verdicts.append(Verdict("REGRESSION", key, f"measured in OLD but not in NEW ({f['allow_missing']} "
                                                           "accepts that)"))
            continue
        loss = o.accuracy - n.accuracy
        growth = 100.0 * (n.size_bytes - o.size_bytes) / o.size_bytes
        speed = (_throughput(old, key), _throughput(new, key))
        slowdown = 100.0 * (1 - speed[1] / speed[0]) if all(speed) else None
        answers, flipped = _answers(o, n, labels)
        found.append(Row(key, o, n, growth, speed, answers, flipped))
        if loss > limits.max_accuracy_loss:
            verdicts.append(Verdict("REGRESSION", key, f"top-1 fell {loss:.2f} points ({o.accuracy:.2f}% → "
                                    f"{n.accuracy:.2f}%), more than {limits.max_accuracy_loss:g} "
                                    f"({f['max_accuracy_loss']}); {answers}"))
        if growth > limits.max_size_growth:
            verdicts.append(Verdict("REGRESSION", key, f"file grew {growth:.1f}% ({o.size_bytes:,} → "
                                    f"{n.size_bytes:,} bytes), more than {limits.max_size_growth:g}% "
                                    f"({f['max_size_growth']})"))
        if slowdown is not None and slowdown > limits.max_slowdown:
            env = [c.text() for c in environment(changed) if c.field in ("CPU", "CPU flags", "threads")]
            verdicts.append(Verdict("REGRESSION", key, f"batch-256 throughput fell {slowdown:.1f}% ({speed[0]:,.0f} "
                                    f"→ {speed[1]:,.0f} img/s), more than {limits.max_slowdown:g}% "
                                    f"({f['max_slowdown']})" + (f"; the machine changed too: {'; '.join(env)}"
                                                                if env else "")))
        model, limit = _threshold_cause(o, n, th_old, th_new, moved)
        if model:
            verdicts.append(Verdict("REGRESSION", key, f"passed every gate in OLD, fails {', '.join(model)} in NEW "
                                    f"by OLD's own thresholds (the model changed: {answers})"))
        if limit:
            why = "; ".join(c.text() for c in moved.values())
            same = "its answers are identical" if flipped is not None and flipped.identical or \
                answers == "identical answers" else answers
            verdicts.append(Verdict("THRESHOLD", key, f"fails {', '.join(limit)} in NEW only because the thresholds "
                                    f"changed ({why}); {same}; by OLD's thresholds it passes. Not a model "
                                    "regression: NEW's own gate fails it"))
    for key, n in after.items():
        if key not in before:
            found.append(Row(key, None, n))
            verdicts.append(Verdict("NEW", key, f"measured only in NEW (top-1 {n.accuracy:.2f}%); no baseline"))
    env = environment(changed)
    if env:
        kind = "REGRESSION" if limits.environment_change == "fail" else "ENVIRONMENT"
        verdicts.append(Verdict(kind, "", "the environment changed: " + "; ".join(c.text() for c in env) + (
            f" ({f['environment_change']})" if kind == "REGRESSION" else "")))
    classes = list(new.get("classes") or old.get("classes") or [])
    prov = (describe((old.get("meta") or {}).get("provenance")), describe((new.get("meta") or {}).get("provenance")))
    return Comparison(changed, found, verdicts, classes, prov)


def rows(old: Mapping[str, Any], new: Mapping[str, Any], limits: Limits) -> tuple[list[Row], list[str]]:
    """(one row per model, one line per regression) of NEW against OLD."""
    result = compare_runs(old, new, limits)
    return result.rows, [v.line().removeprefix("REGRESSION ") for v in result.regressions]


def compare(old: Mapping[str, Any], new: Mapping[str, Any], limits: Limits) -> tuple[list[str], list[str]]:
    """(one line per model, one line per regression) of NEW against OLD."""
    found, regressions = rows(old, new, limits)
    return [r.text() for r in found], regressions
