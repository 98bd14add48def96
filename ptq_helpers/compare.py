"""Compare two runs' results (e.g. a branch's results.json against the default branch's): the regression gate.

    python -m ptq_helpers.compare OLD.json NEW.json [--max-accuracy-loss P] [--max-size-growth PCT]
        [--max-slowdown PCT] [--allow-missing] [--environment-change {report,fail}] [--flips N]
        [--markdown PATH|-] [--figure PNG] [-o PATH|-]

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
from collections.abc import Sequence
from pathlib import Path

from ptq_helpers.analysis.flips import FIRST
from ptq_helpers.analysis.regression import CLI_FLAGS, Comparison, Limits, Row, Verdict, compare, compare_runs, rows
from ptq_helpers.core.errors import ConfigError
from ptq_helpers.core.fileio import atomic_write_bytes
from ptq_helpers.report.regression import draw_flips, markdown, text
from ptq_helpers.results.json_io import load

__all__ = ["CLI_FLAGS", "Comparison", "Limits", "Row", "Verdict", "compare", "compare_runs", "load", "main",
           "markdown", "rows", "text"]


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
    if path.exists() and not (path.is_file() or path.is_dir() or path.is_symlink()):  # a device or pipe
        with open(path, "w", encoding="utf-8") as fh:  # written to, never replaced (e.g. -o /dev/null)
            fh.write(text_)
        return
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
    parser.add_argument("--figure", type=Path, metavar="PNG", help="also draw the flipped test images per true class "
                        "of every model whose answers changed (needs matplotlib: the report extra)")
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
    if args.figure is not None:
        try:
            drawn = draw_flips(result, args.figure)
        except ImportError:
            return _bad_input(parser, "--figure needs matplotlib: pip install -e '.[report]'")
        except OSError as exc:
            return _bad_input(parser, f"--figure {args.figure}: cannot write it ({exc}); pass a writable path")
        print(f"flipped images drawn in {drawn}" if drawn else "--figure: no model's answers changed; nothing drawn",
              file=sys.stderr)
    return 1 if result.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
