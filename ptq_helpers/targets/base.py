"""A deployment target: the CPU (or micro-controller) a build will run on, reached without owning it, and how a build
is evaluated there. Each target is declared in a module of its own (host, avx2, tflm for mcu, arm64 for the Arm
CPUs) and listed once in ptq_helpers.targets.registry; the store asks the target to evaluate a build
(`Target.evaluate`) and which fp32 a drop is gated against (`Target.baseline`), never its architecture.
"""
from __future__ import annotations

import functools
import platform
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from importlib.util import find_spec

import numpy as np

from ptq_helpers.matrix.cases import Case, resolve
from ptq_helpers.core.errors import PTQError
from ptq_helpers.core.isa import cpu_facts, qemu_binary, summary

# How a build is evaluated on a target: in the test process; in child processes on this CPU (ISA switches, or
# another kernel library such as a micro-controller interpreter); or in child processes of an emulated CPU.
Evaluation = Literal["in-process", "child", "emulated", "mcu-interpreter"]


class TargetError(PTQError):
    """A target could not be reached or a child failed; says why and how to reproduce it."""


def _host_machine() -> str:
    return {"AMD64": "x86_64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())


@functools.cache
def emulator_version(arch: str) -> str | None:
    """First line of `qemu-<arch> --version` (e.g. "qemu-aarch64 version 7.2.22 (Debian ...)"), or None: part of
    every emulated prediction's key, since emulators differ (qemu 7.2 runs XNNPACK's SME kernels wrongly)."""
    binary = shutil.which(f"qemu-{arch}") or shutil.which(f"qemu-{arch}-static")
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.splitlines()
    return out[0].strip() if out else None


@functools.cache
def _host_flags() -> dict[str, bool]:
    return dict(cpu_facts().get("flags") or {})


@dataclass(frozen=True)
class Request:
    """What the store hands a target to evaluate one build on the test images (the data lazily: a target that
    evaluates in children reads the .npy, the host the array)."""

    case: Case
    model: Path
    label: str  # how progress lines name the evaluation ("<id>@<target>")
    note: str  # "" or " (draw k)"
    labels: np.ndarray  # the test labels
    threads: int
    cache: Path  # the suite's cache folder (a target with its own userland keeps it there)
    workdir: Path  # a scratch folder, removed afterwards
    images: Callable[[], np.ndarray]  # the test images as the model takes them
    images_npy: Callable[[], Path]  # ... as one float32 .npy, memory-mapped by children
    probabilities: Callable[[np.ndarray], np.ndarray]  # the model's outputs as probabilities (its contract)
    host_probs: Callable[[], np.ndarray]  # this build's probabilities on the host
    baseline: Callable[[], tuple[Case, Path, np.ndarray]]  # its fp32 baseline: case, model file, host probabilities


@dataclass(frozen=True)
class Target:
    """Where a build is evaluated, and how (`evaluation`, done by `evaluator`)."""

    name: str
    description: str
    evaluation: Evaluation = "child"
    # "module:function"(target, Request) -> (probabilities, facts or None): evaluates a build here
    evaluator: str = "ptq_helpers.targets.children:evaluate"
    baseline: Target | None = None  # whose fp32 a drop is gated against (None: this target's own)
    reference_kernels: str = ""  # the kernel library a reference .tflite runs with here ("": not run here)
    qemu_cpu: str | None = None  # emulated CPU for runtimes whose kernels are picked by CPUID
    env: Mapping[str, str] = field(default_factory=dict)  # ISA switches, for the formats in env_formats
    env_formats: frozenset[str] = frozenset()
    forbidden_flags: tuple[str, ...] = ()  # a child that sees one of these was not restricted
    required_flags: tuple[str, ...] = ()  # a child that lacks one of these ran on another CPU
    cpu_model: str | None = None  # the model name a child must see (None: not checked)
    arch: str = "x86_64"  # the machine the children are (under qemu-user: emulated)
    launcher: str | None = None  # "module:function"(target) -> (command prefix incl. python, env): its own userland
    formats: frozenset[str] | None = None  # the model formats it runs (None: all)
    not_run: Mapping[str, str] = field(default_factory=dict)  # format -> why it is not run here (a skip), measured
    runner: str | None = None  # "module:function" replacing the framework's runner (another kernel library)
    runner_label: str = ""  # that runner, as headers and reports name it
    runtime_facts: str | None = None  # "module:function"(case, path) -> {"executed": ...} for its own runner
    needs: tuple[tuple[str, str], ...] = ()  # (module, pip extra) its runner imports
    libraries: tuple[str, ...] = ()  # distributions whose versions shape its predictions (cache keys)
    code: tuple[str, ...] = ()  # modules whose source shapes its predictions (beyond this one and the child)

    @property
    def code_modules(self) -> tuple[str, ...]:
        """Modules whose source is part of the key of every prediction made on this target."""
        own = ("ptq_helpers.targets.base", "ptq_helpers.targets.children", "ptq_helpers.targets.child") \
            if not self.is_host else ()
        runner = tuple(d.partition(":")[0] for d in (self.evaluator, self.runner, self.runtime_facts) if d)
        return tuple(dict.fromkeys((*own, *runner, *self.code)))

    def evaluate(self, request: Request) -> tuple[np.ndarray, dict[str, Any] | None]:
        """The build's probabilities on the test images here, and what the evaluation saw (None in process)."""
        return resolve(self.evaluator)(self, request)

    def key(self, case: Case) -> dict[str, object]:
        """What of this target shapes a case's predictions (part of their cache key)."""
        if self.is_host:
            return {}
        parts: dict[str, object] = {"target": self.name, "how": self.how(case)}
        if self.mode(case) == "qemu":
            parts["emulator"] = emulator_version(self.arch)
        return parts

    @staticmethod
    def note(facts: Mapping[str, Any]) -> dict[str, object] | None:
        """What a record off the host says about how it was measured when it is not a full evaluation on the
        target (an fp32 build checked by a probe only, a drop gated against another target's fp32), and which
        layers the runtime ran as integer kernels there."""
        note: dict[str, object] = {}
        if facts.get("fp32_probe_only"):
            probe = facts.get("probe") or {}
            note["evaluated"] = (f"fp32 probe only ({probe.get('images', '?')} images on the target, max |dp| "
                                 f"{probe.get('max_abs_diff', '?')}): the host's predictions stand for the 10,000")
        if facts.get("fp32_baseline") == "host":
            note["fp32 baseline"] = str(facts.get("fp32_note") or "the host's fp32, after the probe")
        if facts.get("executed"):  # asked of the runtime in the target's child, on the target's CPU
            note["executed"] = facts["executed"]
        return note or None

    def facts_function(self, case: Case) -> str | None:
        """What asks, on this target, which of a case's layers run as integer kernels: the target's own (for its
        own runner) or the framework's runtime facts (run in the target's child, on its CPU)."""
        return self.runtime_facts if self.runner else case.backend.runtime_facts

    @property
    def is_host(self) -> bool:
        return self.evaluation == "in-process"

    def applies(self, case: Case) -> bool:
        """Whether the target takes part for the case: it runs it, or says (as a skip) why it does not."""
        return self.formats is None or case.fmt in self.formats or case.fmt in self.not_run

    def host_is_target(self) -> bool:
        """The host's own CPU already is this target (e.g. an AVX2-only host for avx2): no emulation needed."""
        if not self.qemu_cpu or not self.forbidden_flags or self.arch != _host_machine():
            return False
        flags = _host_flags()
        return bool(flags) and not any(flags.get(f) for f in self.forbidden_flags)

    def here(self) -> str:
        """The description as this host reaches it (headers): a native target says so instead of naming qemu."""
        if self.host_is_target():
            return (f"{self.description.partition(':')[0]}: native, the host has no "
                    f"{', '.join(self.forbidden_flags)} (no emulation)")
        return self.description

    def cpu_label(self, case: Case) -> str:
        """The CPU a case's predictions come from on this target, as failure messages name it."""
        mode, host = self.mode(case), summary(cpu_facts())
        if mode == "qemu":
            return f"emulated {self.cpu_model or self.qemu_cpu} (qemu-{self.arch} -cpu {self.qemu_cpu})"
        if mode == "env":
            return f"{host}, capped with {self.how(case)}"
        if mode == "child":
            return f"{self.runner_label or self.runner} on {host}"
        return host

    def mode(self, case: Case) -> str:
        """'in-process', 'env' (native child with ISA variables), 'native' (the host is the target: a plain
        child), 'qemu' (emulated child) or 'child'."""
        if self.is_host:
            return "in-process"
        if case.fmt in self.env_formats:
            return "env"
        if self.qemu_cpu and self.host_is_target():
            return "native"
        return "qemu" if self.qemu_cpu else "child"

    def how(self, case: Case) -> str:
        """How this target is reached for a case, for headers, reports and cache keys."""
        mode = self.mode(case)
        if mode == "qemu":
            return f"qemu-{self.arch} -cpu {self.qemu_cpu}" + (f" {self.runner_label}" if self.runner_label else "")
        if mode == "env":
            return " ".join(f"{k}={v}" for k, v in self.env.items())
        if mode == "child":
            return f"{self.runner_label or self.runner} in child processes"
        if mode == "native":
            return f"natively: the host has no {', '.join(self.forbidden_flags)} (it is the {self.name} target CPU)"
        return "in the test process"

    def missing_tool(self, case: Case) -> str | None:
        """Why this machine cannot reach the target for a case (a skip reason), or None."""
        if case.fmt in self.not_run:
            return f"{case.id} on {self.name}: {self.not_run[case.fmt]}"
        if self.mode(case) == "qemu" and self.arch != "x86_64" and shutil.which(f"qemu-{self.arch}") is None:
            return (f"target {self.name} emulates a {self.qemu_cpu} CPU with qemu-{self.arch} (qemu-user), which is "
                    f"not installed: apt-get install qemu-user (Debian/Ubuntu), then rerun")
        if self.mode(case) == "qemu" and self.arch == "x86_64" and qemu_binary() is None:
            return (f"target {self.name} emulates a {self.qemu_cpu} CPU with qemu-user, which is not installed: "
                    f"apt-get install qemu-user (Debian/Ubuntu), then rerun")
        missing = [(m, extra) for m, extra in self.needs if find_spec(m) is None]
        if missing:
            return (f"target {self.name} needs {', '.join(m for m, _ in missing)}: pip install -e "
                    f"'.[{','.join(dict.fromkeys(e for _, e in missing))}]'")
        return None


def check_cpu(target: Target, cpu: Mapping[str, Any]) -> str | None:
    """Why a child that saw `cpu` did not run on `target`'s CPU, or None."""
    flags = cpu.get("flags") or {}
    wrong = [f for f in target.forbidden_flags if flags.get(f)]
    if wrong:
        return f"saw {', '.join(wrong)}: the CPU of target {target.name} was not restricted"
    lacking = [f for f in target.required_flags if not flags.get(f)]
    model = cpu.get("model_name")
    if lacking or (target.cpu_model and model != target.cpu_model):
        return (f"saw a {model or '?'} CPU ({cpu.get('machine', '?')}, no {', '.join(lacking) or 'missing flag'}) "
                f"instead of target {target.name}'s {target.cpu_model or target.qemu_cpu}: the emulated CPU was "
                f"not the one asked for")
    return None


