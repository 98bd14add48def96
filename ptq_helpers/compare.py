"""Compare two runs' results (e.g. a branch's results.json against the default branch's): the regression gate.

    python -m ptq_helpers.compare OLD.json NEW.json [--max-accuracy-loss P] [--max-size-growth PCT]
        [--max-slowdown PCT] [--allow-missing] [--environment-change {report,fail}] [--flips N]
        [--markdown PATH|-] [-o PATH|-]

It explains before it judges: first what changed between the runs besides the models (thresholds, library
versions, CPU and its instruction sets, threads, matrix, targets, model source and input contract, calibration,
suite version and commit) and which run each file is (its provenance); then per model and target: top-1, drop,
size and (when both runs were benchmarked) batch-256 throughput, old vs new, whether the answers on the 10,000
test images are identical or changed (McNemar's exact test on the discordant images) with the images that flipped
and their classes; then the verdicts, each naming its cause:

- REGRESSION: the model got worse (top-1, size, speed beyond the limits; a gate it passed in OLD fails in NEW by
  OLD's own thresholds), or a model of OLD is missing; exit 1.
- THRESHOLD: a model crosses a changed threshold (it fails in NEW only because the limit moved); said, not a
  regression: the NEW run's own gate already failed it.
- ENVIRONMENT: the environment changed; a regression only with --environment-change=fail.
- NEW: models measured only in NEW.

Exit 1 on a regression, 2 on bad input, 0 otherwise. `pytest --ptq-baseline OLD.json` runs the same comparison
at the end of a run, with the limits as pytest options (--ptq-max-accuracy-loss, ...), each regression a failed
test item.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.analysis.changes import Change, changes, environment, threshold_changes
from ptq_helpers.analysis.flips import FIRST, Flips, flips
from ptq_helpers.core.errors import ConfigError
from ptq_helpers.core.fileio import atomic_write_bytes
from ptq_helpers.core.provenance import describe
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.results.json_io import load, test_labels
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
        drop = "" if n.is_fp32 or o.drop is None or n.drop is None else f", Δ vs fp32 {-o.drop:+.2f} → {-n.drop:+.2f} points"
        fast = (f", batch 256 {self.speed[0]:,.0f} → {self.speed[1]:,.0f} img/s ({100 * (self.speed[1] / self.speed[0] - 1):+.1f}%)"
                if all(self.speed) else "")
        return (f"{self.key}: top-1 {o.accuracy:.2f}% → {n.accuracy:.2f}% ({n.accuracy - o.accuracy:+.2f}){drop}, size "
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


def text(old_name: str, new_name: str, c: Comparison, first: int = FIRST) -> list[str]:
    """The comparison as terminal lines: which runs, what changed, per model, the flips, the verdicts."""
    out = [f"{new_name} against {old_name}:"]
    for name, prov in (("OLD", c.provenance[0]), ("NEW", c.provenance[1])):
        out += [f"  {name} {line}" for line in prov] or [f"  {name}: no provenance recorded (an older file)"]
    out.append("what changed besides the models:" if c.changed else
               "what changed besides the models: nothing recorded (same thresholds, environment and setup)")
    out += [f"  {ch.kind}: {ch.text()}" for ch in c.changed]
    out.append("per model:")
    out += [f"  {r.text()}" for r in c.rows]
    flipped = [r for r in c.rows if r.flips is not None and not r.flips.identical]
    if flipped and c.classes:
        out.append(f"flipped test images (index: true class: OLD's answer→NEW's answer; first {first} of each):")
        for r in flipped:
            out += [f"  {r.key} {line}" for line in r.flips.listing(c.classes, first)]
    out += [v.line() for v in c.verdicts]
    n = len(c.regressions)
    out.append(f"{n} regression(s)" if n else "no regression")
    return out


def markdown(old_name: str, new_name: str, c: Comparison, first: int = FIRST) -> str:
    """The comparison as Markdown, for a CI job's summary page or a merge request (same figures and verdicts)."""
    regs = c.regressions
    out = [f"## resnet8-ptq: `{new_name}` against the baseline `{old_name}`", "",
           f"**{len(regs)} regression(s)**" if regs else "**No regression.**", ""]
    icons = {"REGRESSION": ":x:", "THRESHOLD": ":warning:", "ENVIRONMENT": ":information_source:",
             "NEW": ":new:"}
    out += [f"- {icons[v.kind]} {v.line()}" for v in c.verdicts] + ([""] if c.verdicts else [])
    out += ["**What changed besides the models:**", ""]
    out += [f"- {ch.kind}: {ch.text()}" for ch in c.changed] or ["- nothing recorded"]
    out += ["", "**Runs:**", ""]
    for name, prov in (("OLD", c.provenance[0]), ("NEW", c.provenance[1])):
        out += [f"- {name} {line}" for line in prov] or [f"- {name}: no provenance recorded"]
    out += ["", "| Model | Top-1 old → new | Δ vs fp32 old → new | Size old → new | Batch 256 old → new | Answers |",
            "|---|---|---|---|---|---|"]
    for r in c.rows:
        o, n = r.old, r.new
        if n is None or o is None:
            out.append(f"| `{r.key}` | {o.accuracy:.2f}% → not run | - | - | - | - |" if n is None else
                       f"| `{r.key}` | new: {n.accuracy:.2f}% | - | {n.size_bytes:,} B | - | - |")
            continue
        drop = "-" if n.is_fp32 or o.drop is None or n.drop is None else f"{-o.drop:+.2f} → {-n.drop:+.2f}"
        fast = f"{r.speed[0]:,.0f} → {r.speed[1]:,.0f} img/s" if all(r.speed) else "-"
        out.append(f"| `{r.key}` | {o.accuracy:.2f}% → {n.accuracy:.2f}% ({n.accuracy - o.accuracy:+.2f}) | {drop} | "
                   f"{o.size_bytes:,} → {n.size_bytes:,} B ({r.growth:+.1f}%) | {fast} | {r.answers} |")
    flipped = [r for r in c.rows if r.flips is not None and not r.flips.identical]
    if flipped and c.classes:
        out += ["", f"**Flipped test images** (index: true class: OLD's answer→NEW's answer; first {first}):", ""]
        for r in flipped:
            out += [f"- `{r.key}` {line}" for line in r.flips.listing(c.classes, first)]
    return "\n".join(out) + "\n"


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-accuracy-loss", type=float, default=Limits.max_accuracy_loss, metavar="POINTS",
                        help="top-1 may fall at most this many points per model (default %(default)s)")
    parser.add_argument("--max-size-growth", type=float, default=Limits.max_size_growth, metavar="PCT",
                        help="a model file may grow at most this much (default %(default)s%%)")
    parser.add_argument("--max-slowdown", type=float, default=Limits.max_slowdown, metavar="PCT",
                        help="batch-256 throughput may fall at most this much when both runs were benchmarked "
                             "(default %(default)s%%)")
    parser.add_argument("--allow-missing", action="store_true", help="a model of OLD missing in NEW is not a regression")
    parser.add_argument("--environment-change", choices=("report", "fail"), default="report",
                        help="an environment change (library versions, CPU or its flags, threads, platform) is "
                             "reported (default) or a regression (fail)")


def _bad_input(parser: argparse.ArgumentParser, message: str) -> int:
    """Bad input is one line on stderr (which file, what is wrong, the fix) and exit status 2."""
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2


def _write(dest: str, text_: str) -> None:
    """Write to a file (atomically), or to stdout for '-'."""
    if dest == "-":
        sys.stdout.write(text_)
        return
    path = Path(dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text_.encode())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptq_helpers.compare",
                                     description="Compare two --ptq-json results files: what changed, per model "
                                                 "answers and flipped images, verdicts with their cause; exit 1 when "
                                                 "NEW regresses.")
    parser.add_argument("old", type=Path, help="the baseline results (e.g. the default branch's results.json)")
    parser.add_argument("new", type=Path, help="the results to check")
    add_limit_arguments(parser)
    parser.add_argument("--flips", type=int, default=FIRST, metavar="N",
                        help="flipped images listed per model and direction (default %(default)s; the count is "
                             "always given)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the comparison as Markdown (a CI job "
                        "summary, a merge-request comment; '-' for stdout); the exit status is the same")
    parser.add_argument("-o", "--output", metavar="PATH", default="-",
                        help="where the text comparison goes (default '-': stdout)")
    args = parser.parse_args(argv)
    if args.flips < 0:
        return _bad_input(parser, f"--flips {args.flips}: give 0 or more images")
    try:
        old, new = load(args.old), load(args.new)
    except ConfigError as exc:
        return _bad_input(parser, str(exc))
    limits = Limits(args.max_accuracy_loss, args.max_size_growth, args.max_slowdown, args.allow_missing,
                    args.environment_change)
    try:
        result = compare_runs(old, new, limits)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError) as exc:
        return _bad_input(parser, f"{args.old} against {args.new}: incomplete or damaged results "
                                  f"({type(exc).__name__}: {exc}); write them again with pytest --ptq-json PATH")
    outputs = [(args.output, "\n".join(text(str(args.old), str(args.new), result, args.flips)) + "\n", "-o")]
    if args.markdown is not None:
        outputs.append((args.markdown, markdown(str(args.old), str(args.new), result, args.flips), "--markdown"))
    for dest, body, option in outputs:
        try:
            _write(dest, body)
        except OSError as exc:
            return _bad_input(parser, f"{option} {dest}: cannot write it ({exc}); pass a writable path or '-'")
    return 1 if result.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
