"""The child-process machinery of every target evaluated outside the test process: the test images are sharded over
one `python -m ptq_helpers.targets.child` per core (under qemu-user, a capped ISA, or with a target's own runner);
every child reports the CPU it saw, and a child that saw a forbidden instruction set fails the evaluation.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptq_helpers.core.isa import qemu_binary
from ptq_helpers.core.progress import say
from ptq_helpers.core.runtime import available_cores
from ptq_helpers.matrix.cases import Case, resolve
from ptq_helpers.targets.base import Request, Target, TargetError, check_cpu

QEMU_NOISE = "qemu-x86_64: warning: TCG doesn't support requested feature"


def shards(n: int, workers: int) -> list[tuple[int, int]]:
    """[0, n) in `workers` contiguous slices of near-equal size."""
    workers = max(1, min(workers, n))
    bounds = [round(i * n / workers) for i in range(workers + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


@dataclass
class _Child:
    proc: subprocess.Popen
    cmd: list[str]
    start: int
    stop: int
    out: Path
    facts: Path
    stderr: Path

    def failure(self, what: str, env_text: str) -> TargetError:
        try:
            lines = [ln for ln in self.stderr.read_text(errors="replace").splitlines() if not ln.startswith(QEMU_NOISE)]
        except OSError:
            lines = []
        tail = "\n".join(lines[-10:]) or "(no error output)"
        return TargetError(f"evaluation child for images[{self.start}:{self.stop}] {what}; reproduce with: "
                           f"{env_text}{shlex.join(self.cmd)}\nlast stderr lines:\n{tail}")


def predict(case: Case, target: Target, model: Path, images_npy: Path, n_images: int, threads: int,
            workdir: Path, workers: int | None = None, cache: Path | None = None,
            executed: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Probabilities for images_npy[:n_images] computed on `target`, and what the children saw (`cache`: where a
    target with its own userland keeps it; default: the suite's cache folder); with `executed`, the first child
    also asks the runtime which layers run as integer kernels there (facts["executed"])."""
    mode = target.mode(case)
    reason = target.missing_tool(case)
    if reason:
        raise TargetError(reason)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    extra = dict(target.env) if mode == "env" else {}
    if case.fmt == "pt2":  # compiled code is ISA-specific: never share Inductor's cache with the host
        extra["TORCHINDUCTOR_CACHE_DIR"] = str(workdir / f"inductor-{target.name}")
        extra["TORCHINDUCTOR_COMPILE_THREADS"] = "1"
    env.update(extra)
    env_text = "".join(f"{k}={shlex.quote(v)} " for k, v in extra.items())
    prefix = [qemu_binary() or "qemu-x86_64", "-cpu", str(target.qemu_cpu)] if mode == "qemu" else []
    launch = [*prefix, sys.executable]
    if target.launcher and mode == "qemu":  # its own userland: an emulator, a root and a foreign python
        launch, guest = resolve(target.launcher)(target, cache)
        prefix = launch[:1]
        env = {**guest, **extra, "OMP_NUM_THREADS": str(threads)}
        env_text += "".join(f"{k}={shlex.quote(v)} " for k, v in guest.items() if os.environ.get(k) != v)
    workdir.mkdir(parents=True, exist_ok=True)
    children: list[_Child] = []
    started = time.perf_counter()
    try:
        for i, (start, stop) in enumerate(shards(n_images, workers or available_cores())):
            out, facts, err = (workdir / f"shard-{i}.{ext}" for ext in ("npy", "json", "stderr"))
            cmd = [*launch, "-m", "ptq_helpers.targets.child", "--case", case.id, "--model",
                   str(model), "--images", str(images_npy), "--start", str(start), "--stop", str(stop),
                   "--threads", str(threads), "--out", str(out), "--facts", str(facts)]
            if target.runner:
                cmd += ["--runner", target.runner]
            if executed and i == 0 and not case.is_fp32 and target.facts_function(case):
                cmd += ["--executed", str(target.facts_function(case))]
            with open(err, "wb") as fh:
                proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fh)
            children.append(_Child(proc, cmd, start, stop, out, facts, err))
        for child in children:
            code = child.proc.wait()
            if code != 0:
                raise child.failure(f"on target {target.name} exited with {code}", env_text)
    finally:
        for child in children:  # on failure: stop the siblings
            if child.proc.poll() is None:
                child.proc.kill()
                child.proc.wait()
    seen = [json.loads(c.facts.read_text()) for c in children]
    for child, facts in zip(children, seen):
        wrong = check_cpu(target, facts["cpu"]) if mode in ("qemu", "native") else None
        if wrong:
            raise child.failure(wrong, env_text)
    probs = np.concatenate([np.load(c.out) for c in children])
    emulator = subprocess.run([prefix[0], "--version"], capture_output=True, text=True).stdout.splitlines()[:1] \
        if prefix else []
    return probs, {"target": target.name, "how": target.how(case), "mode": mode, "children": len(children),
                   "wall_s": round(time.perf_counter() - started, 1), "cpu": seen[0]["cpu"],
                   "runtime": seen[0]["runtime"], "emulator": emulator[0] if emulator else None,
                   **({"executed": seen[0]["executed"]} if seen[0].get("executed") else {})}


def evaluate(target: Target, request: Request) -> tuple[np.ndarray, dict[str, Any]]:
    """A build evaluated in child processes on `target`, one per core of the machine: when the other xdist worker
    is idle (the end of a run) a lone evaluation still uses every core."""
    case = request.case
    say(f"{request.label}: evaluating {len(request.labels):,} images on target {target.name} ({target.how(case)}) ...")
    probs, facts = predict(case, target, request.model, request.images_npy(), len(request.labels), 1, request.workdir,
                           cache=request.cache)
    say(f"{request.label}: evaluated in {facts['wall_s']:.0f} s ({facts['children']} child processes)")
    return request.probabilities(probs), facts
