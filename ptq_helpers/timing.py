"""Cold and warm wall time of the suite on an empty cache (a timing script, never a timed test):

    python -m ptq_helpers.timing [--cache EMPTY_DIR] [PYTEST ARGS ...]      # default: -n auto

Runs `pytest PYTEST ARGS --durations=N` twice with RESNET8_PTQ_CACHE pointing at a fresh folder (temporary,
or --cache, which must be empty or absent and is kept for later runs): the first run builds and evaluates
everything (cold), the second reuses the cache (warm). Prints the CPU and its int8-relevant instruction
sets, then per run the wall time, exit code and pytest's slowest phases (the breakdown: a test's setup
is where the models it needs are built and evaluated); each run's full output goes to resnet8-ptq-timing-<pid>-<run>.log
in the temporary folder.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ptq_helpers.core.isa import cpu_facts, summary
from ptq_helpers.core.runtime import available_cores

DURATIONS = 15


def main(argv: list[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip().replace("    python -m", "usage: python -m", 1))
        return 0
    keep = None
    if args[:1] == ["--cache"]:
        keep, args = Path(args[1]), args[2:]
        if keep.exists() and any(keep.iterdir()):
            sys.exit(f"--cache {keep}: not empty; a cold run needs an empty or absent folder")
    args = args or ["-n", "auto"]
    print(f"CPU {summary(cpu_facts())}; {available_cores()} cores; pytest {' '.join(args)}", flush=True)
    worst = 0
    with tempfile.TemporaryDirectory(prefix="ptq-timing-") as temporary:
        env = {**os.environ, "RESNET8_PTQ_CACHE": str(keep or temporary)}
        for label in ("cold", "warm"):
            log = Path(tempfile.gettempdir()) / f"resnet8-ptq-timing-{os.getpid()}-{label}.log"
            started = time.perf_counter()
            with open(log, "w") as out:
                code = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                       f"--durations={DURATIONS}", *args], env=env, stdout=out,
                                      stderr=subprocess.STDOUT).returncode
            print(f"{label}: {time.perf_counter() - started:.1f} s wall, pytest exit {code} (output: {log})",
                  flush=True)
            for line in slowest(log.read_text()):
                print(f"  {line}")
            worst = max(worst, code)
    return worst


def slowest(output: str) -> list[str]:
    """pytest's `slowest durations` lines from a run's output."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "slowest" in line and "durations" in line), None)
    if start is None:
        return []
    body = []
    for line in lines[start + 1:]:
        if not line.strip() or line.startswith("="):
            break
        body.append(line)
    return body


if __name__ == "__main__":
    sys.exit(main())
