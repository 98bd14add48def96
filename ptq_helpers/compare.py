"""Compare two runs' results (e.g. today's results.json against the last release's): the regression gate.

    python -m ptq_helpers.compare OLD.json NEW.json [--max-accuracy-loss P] [--max-size-growth PCT]
                                                    [--max-slowdown PCT] [--allow-missing] [--markdown PATH]

Per model and target present in OLD: top-1, drop, size and (when both runs were benchmarked) batch-256
throughput, old vs new, with the paired test of the two runs' answers on the same test images (McNemar's
exact test, scipy.stats.binomtest on the discordant images) when both files carry per-image results.
Exit 1 when NEW regresses beyond the limits, 2 on bad input, 0 otherwise. `pytest --ptq-baseline OLD.json`
runs the same comparison at the end of a run.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.core.errors import ConfigError
from ptq_helpers.core.fileio import atomic_write_bytes
from ptq_helpers.results.json_io import load
from ptq_helpers.results.record import ModelRecord, load_all
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report.markdown import table


@dataclass(frozen=True)
class Limits:
    """How much worse NEW may be than OLD before it counts as a regression."""

    max_accuracy_loss: float = 0.5  # top-1 points
    max_size_growth: float = 5.0  # percent
    max_slowdown: float = 25.0  # percent of batch-256 throughput (as tox -e bench)
    allow_missing: bool = False


def paired(old: ModelRecord, new: ModelRecord) -> str:
    """Only-old-right / only-new-right images and McNemar's exact p, or why it cannot be computed."""
    from scipy.stats import binomtest

    a, b = old.correct_mask(), new.correct_mask()
    if a is None or b is None or len(a) != len(b):
        return "no per-image results"
    only_old, only_new = int((a & ~b).sum()), int((~a & b).sum())
    if only_old + only_new == 0:
        return "identical answers"
    p = binomtest(only_old, only_old + only_new, 0.5).pvalue
    return f"{only_old} only old right, {only_new} only new right, McNemar p {p:.3g}"


def _throughput(data: Mapping[str, Any], key: str) -> float | None:
    fig = (data.get("benchmarks") or {}).get(key, {}).get("256")
    return float(fig["images_per_s"]) if fig else None


@dataclass(frozen=True)
class Row:
    """One model of OLD against NEW (None: not run in NEW)."""

    key: str
    old: ModelRecord
    new: ModelRecord | None
    growth: float = 0.0
    speed: tuple[float | None, float | None] = (None, None)
    answers: str = ""

    def text(self) -> str:
        o, n = self.old, self.new
        if n is None:
            return f"{self.key}: in OLD, not run in NEW"
        drop = ("" if n.is_fp32 or o.drop is None or n.drop is None
                else f", Δ vs fp32 {-o.drop:+.2f} → {-n.drop:+.2f} points")
        fast = (f", batch 256 {self.speed[0]:,.0f} → {self.speed[1]:,.0f} img/s "
                f"({100 * (self.speed[1] / self.speed[0] - 1):+.1f}%)"
                if all(self.speed) else "")
        return (f"{self.key}: top-1 {o.accuracy:.2f}% → {n.accuracy:.2f}% ({n.accuracy - o.accuracy:+.2f}){drop}, size "
                f"{o.size_bytes:,} → {n.size_bytes:,} B ({self.growth:+.1f}%){fast}; {self.answers}")


def rows(old: Mapping[str, Any], new: Mapping[str, Any], limits: Limits) -> tuple[list[Row], list[str]]:
    """(one row per model of OLD, one line per regression) of NEW against OLD."""
    before, after = load_all(old["models"]), load_all(new["models"])
    th_new = Thresholds.from_json(new["thresholds"])
    th_old = Thresholds.from_json(old["thresholds"])
    found, regressions = [], []
    for key, o in before.items():
        n = after.get(key)
        if n is None:
            found.append(Row(key, o, None))
            if not limits.allow_missing:
                regressions.append(f"{key}: measured in OLD but not in NEW (--allow-missing accepts that)")
            continue
        loss = o.accuracy - n.accuracy
        growth = 100.0 * (n.size_bytes - o.size_bytes) / o.size_bytes
        speed = (_throughput(old, key), _throughput(new, key))
        slowdown = 100.0 * (1 - speed[1] / speed[0]) if all(speed) else None
        found.append(Row(key, o, n, growth, speed, paired(o, n)))
        if loss > limits.max_accuracy_loss:
            regressions.append(f"{key}: top-1 fell {loss:.2f} points ({o.accuracy:.2f}% → {n.accuracy:.2f}%), more "
                               f"than {limits.max_accuracy_loss:g} (--max-accuracy-loss); {paired(o, n)}")
        if growth > limits.max_size_growth:
            regressions.append(f"{key}: file grew {growth:.1f}% ({o.size_bytes:,} → {n.size_bytes:,} bytes), more "
                               f"than {limits.max_size_growth:g}% (--max-size-growth)")
        if slowdown is not None and slowdown > limits.max_slowdown:
            regressions.append(f"{key}: batch-256 throughput fell {slowdown:.1f}% ({speed[0]:,.0f} → {speed[1]:,.0f} "
                               f"img/s), more than {limits.max_slowdown:g}% (--max-slowdown)")
        failed_now, failed_then = gates.all_failures(n, th_new), gates.all_failures(o, th_old)
        if failed_now and not failed_then:
            regressions.append(f"{key}: passed every gate in OLD, fails {', '.join(failed_now)} in NEW")
    return found, regressions


def compare(old: Mapping[str, Any], new: Mapping[str, Any], limits: Limits) -> tuple[list[str], list[str]]:
    """(one line per model, one line per regression) of NEW against OLD."""
    found, regressions = rows(old, new, limits)
    return [r.text() for r in found], regressions


def markdown(old_name: str, new_name: str, found: Sequence[Row], regressions: Sequence[str]) -> str:
    """The comparison as Markdown, for a CI job's summary page or a merge request: a table per model and the
    regressions (the same figures and verdict as the text output)."""
    out = [f"## resnet8-ptq: `{new_name}` against the baseline `{old_name}`", "",
           f"**{len(regressions)} regression(s)**" if regressions else "**No regression.**", ""]
    out += [f"- :x: {line}" for line in regressions] + ([""] if regressions else [])
    rows = []
    for r in found:
        o, n = r.old, r.new
        if n is None:
            rows.append((f"`{r.key}`", f"{o.accuracy:.2f}% → not run", "-", "-", "-", "-"))
            continue
        drop = "-" if n.is_fp32 or o.drop is None or n.drop is None else f"{-o.drop:+.2f} → {-n.drop:+.2f}"
        fast = f"{r.speed[0]:,.0f} → {r.speed[1]:,.0f} img/s" if all(r.speed) else "-"
        rows.append((f"`{r.key}`", f"{o.accuracy:.2f}% → {n.accuracy:.2f}% ({n.accuracy - o.accuracy:+.2f})", drop,
                     f"{o.size_bytes:,} → {n.size_bytes:,} B ({r.growth:+.1f}%)", fast, str(r.answers)))
    out += table(("Model", "Top-1 old → new", "Δ vs fp32 old → new", "Size old → new", "Batch 256 old → new",
                  "Same images"), rows)
    return "\n".join(out[:-1]) + "\n"


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-accuracy-loss", type=float, default=Limits.max_accuracy_loss, metavar="POINTS",
                        help="top-1 may fall at most this many points per model (default %(default)s)")
    parser.add_argument("--max-size-growth", type=float, default=Limits.max_size_growth, metavar="PCT",
                        help="a model file may grow at most this much (default %(default)s%%)")
    parser.add_argument("--max-slowdown", type=float, default=Limits.max_slowdown, metavar="PCT",
                        help="batch-256 throughput may fall at most this much when both runs were benchmarked "
                             "(default %(default)s%%)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="a model of OLD missing in NEW is not a regression")


def _bad_input(parser: argparse.ArgumentParser, message: str) -> int:
    """Bad input is one line on stderr (which file, what is wrong, the fix) and exit status 2."""
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptq_helpers.compare",
                                     description="Compare two --ptq-json results files; exit 1 when NEW regresses.")
    parser.add_argument("old", type=Path, help="the baseline results (e.g. the last release's results.json)")
    parser.add_argument("new", type=Path, help="the results to check")
    add_limit_arguments(parser)
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the comparison as Markdown (a CI job "
                        "summary, a merge-request comment); the exit status is the same")
    args = parser.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
    except ConfigError as exc:
        return _bad_input(parser, str(exc))
    limits = Limits(args.max_accuracy_loss, args.max_size_growth, args.max_slowdown, args.allow_missing)
    try:
        found, regressions = rows(old, new, limits)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError) as exc:
        return _bad_input(parser, f"{args.old} against {args.new}: incomplete or damaged results "
                                  f"({type(exc).__name__}: {exc}); write them again with pytest --ptq-json PATH")
    if args.markdown is not None:
        try:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(args.markdown, markdown(str(args.old), str(args.new), found, regressions).encode())
        except OSError as exc:
            return _bad_input(parser, f"--markdown {args.markdown}: cannot write it ({exc}); pass a writable path")
    print(f"{args.new} against {args.old}:")
    for row in found:
        print(f"  {row.text()}")
    for line in regressions:
        print(f"REGRESSION {line}")
    print(f"{len(regressions)} regression(s)" if regressions else "no regression")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
