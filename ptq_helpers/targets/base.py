"""Deployment targets: the CPU a build will run on, reached without owning it.

`arm64-a72`, `arm64-n1` and `arm64-max` are Arm CPUs: the aarch64 wheels of the host's ONNX Runtime and LiteRT
versions in a Debian arm64 CPython userland (ptq_helpers.targets.arm_setup) under `qemu-aarch64 -cpu <cpu>`
(ptq_helpers.targets.arm64 starts them and guards against emulator faults).
`avx2` is an AVX2-only x86-64 CPU (no AVX-512, no VNNI). Runtimes that pick their int8 kernels by
CPUID (ONNX Runtime's MLAS, fbgemm) have no switch for it, so their evaluation runs in child
processes under `qemu-x86_64 -cpu Haswell` (user-mode emulation: CPUID itself says Haswell); oneDNN
(the PT2E/Inductor int8 kernels) honours ONEDNN_MAX_CPU_ISA, so those children run natively.
The 10,000 images are sharded across one child per core; every child reports the CPU it saw, and a
child that saw a forbidden instruction set fails the evaluation.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importlib.util import find_spec

import numpy as np

from ptq_helpers.matrix.cases import Case, resolve
from ptq_helpers.core.errors import PTQError
from ptq_helpers.core.isa import cpu_facts, qemu_binary, summary
from ptq_helpers.core.runtime import available_cores

QEMU_NOISE = "qemu-x86_64: warning: TCG doesn't support requested feature"


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
class Target:
    """Where a build is evaluated. `host` is the test process itself; others run in child processes."""

    name: str
    description: str
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
        own = ("ptq_helpers.targets.base", "ptq_helpers.targets.child") if not self.is_host else ()
        runner = tuple(d.partition(":")[0] for d in (self.runner, self.runtime_facts) if d)
        return tuple(dict.fromkeys((*own, *runner, *self.code)))

    def facts_function(self, case: Case) -> str | None:
        """What asks, on this target, which of a case's layers run as integer kernels: the target's own (for its
        own runner) or the framework's runtime facts (run in the target's child, on its CPU)."""
        return self.runtime_facts if self.runner else case.backend.runtime_facts

    @property
    def is_host(self) -> bool:
        return self.name == "host"

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


HOST = Target("host", "this machine's CPU, in the test process")
AVX2 = Target(
    "avx2", "an AVX2-only x86-64 CPU (no AVX-512, no VNNI): ONNX Runtime, TorchScript, LiteRT and OpenVINO under "
    "qemu-x86_64 -cpu Haswell; PT2E/Inductor natively with oneDNN, ATen and Inductor's C++ capped at AVX2",
    qemu_cpu="Haswell",
    # oneDNN's int8 kernels, ATen's and Inductor's generated C++ (compiled by the native compiler) all at AVX2.
    env={"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "TORCHINDUCTOR_CPP_MARCH": "haswell"},
    env_formats=frozenset({"pt2"}), forbidden_flags=("avx512f", "avx512_vnni", "avx_vnni", "amx_int8"),
)
MCU = Target(
    "mcu", "a Cortex-M micro-controller: TensorFlow Lite Micro's reference kernels (PyPI tflite-micro), one image "
    "per invoke, in child processes; .tflite builds only", formats=frozenset({"tflite"}),
    runner="ptq_helpers.targets.tflm:runner", runner_label="the TensorFlow Lite Micro interpreter",
    runtime_facts="ptq_helpers.targets.tflm:runtime_facts",
    needs=(("tflite_micro", "mcu"),), libraries=("tflite-micro", "ethos-u-vela", "ai-edge-litert"),
    code=("ptq_helpers.targets.mcu", "ptq_helpers.targets.vela", "ptq_helpers.backends.litert.backend"),
)
_ARM = dict(arch="aarch64", formats=frozenset({"onnx", "qdq", "qoperator", "tflite"}), required_flags=("asimd",),
            launcher="ptq_helpers.targets.arm64:launch", runner_label="in the Debian arm64 CPython 3.11 userland",
            libraries=("ai-edge-litert", "onnxruntime"),
            code=("ptq_helpers.targets.arm64", "ptq_helpers.targets.arm_cpu", "ptq_helpers.targets.arm_setup"))
_ARM_TEXT = ("ONNX Runtime and LiteRT (XNNPACK) aarch64 wheels of the host's versions under qemu-aarch64 -cpu {}; "
             "ONNX and .tflite builds, gated against the host's fp32 after an fp32 probe on the target")
# Measured on 2026-12-02 (2-vCPU AMD EPYC host, qemu-aarch64 7.2.22, Debian arm64 CPython 3.11 userland).
_OV_ON_ARM = ("not run: OpenVINO 2026.4.1's aarch64 wheel (manylinux_2_35) runs under qemu-aarch64 -cpu neoverse-n1, "
              "but at ~0.86 s per image on one emulated core (ov-int8-nncf: 200 test images in 172 s, 8 of them with "
              "another top-1 than the x86 host), ~2.4 h per 10,000 images per core: beyond a gate's budget; "
              "measure OpenVINO on Arm hardware")
_TORCH_ON_ARM = ("not run: PyPI's torch 2.14.1 aarch64 wheel (manylinux_2_28_aarch64, 454 MB) is the CUDA build, and "
                 "under qemu-aarch64 `import torch` fails with \"ValueError: libcublasLt.so.*[0-9] not found in the "
                 "system path\"; the CPU-only aarch64 wheel (PyTorch int8 would run its QNNPACK engine) is on "
                 "download.pytorch.org, which this project's machines cannot reach")
_ARM["not_run"] = {"ir": _OV_ON_ARM, "torchscript": _TORCH_ON_ARM, "pt2": _TORCH_ON_ARM}
ARM64_A72 = Target("arm64-a72", "an Arm Cortex-A72 (Armv8.0-A NEON, no dot-product): " + _ARM_TEXT.format("cortex-a72"),
                   qemu_cpu="cortex-a72", forbidden_flags=("asimddp", "i8mm", "sve"), cpu_model="Cortex-A72", **_ARM)
ARM64_N1 = Target("arm64-n1", "an Arm Neoverse-N1 (Armv8.2-A, dot-product, no i8mm/SVE): " + _ARM_TEXT.format(
                  "neoverse-n1"), qemu_cpu="neoverse-n1", forbidden_flags=("i8mm", "sve"), cpu_model="Neoverse-N1",
                  **{**_ARM, "required_flags": ("asimd", "asimddp")})
# qemu 7.2's `max` runs XNNPACK's SME kernels wrongly (10.85% on litert-int8): SME off.
ARM64_MAX = Target("arm64-max", "qemu's `max` Arm CPU (Armv9-class: dot-product, i8mm, SVE2; SME off): " + _ARM_TEXT.format(
                   "max,sme=off"), qemu_cpu="max,sme=off", forbidden_flags=("sme",),
                   **{**_ARM, "required_flags": ("asimd", "asimddp", "i8mm", "sve2")})
TARGETS: dict[str, Target] = {t.name: t for t in (HOST, AVX2, MCU, ARM64_A72, ARM64_N1, ARM64_MAX)}
# The kernel library a .tflite runs with on each target that runs one.
REFERENCE_KERNELS = {"host": "LiteRT default (XNNPACK)", "mcu": "TFLite Micro reference kernels",
                     **{t: "LiteRT default (XNNPACK), aarch64" for t in ("arm64-a72", "arm64-n1", "arm64-max")}}


def parse_targets(raw: str) -> tuple[str, ...]:
    """`host,avx2` -> ('host', 'avx2'); unknown names are refused with the known ones (argparse type=)."""
    import argparse

    names = tuple(dict.fromkeys(n.strip() for n in str(raw).split(",") if n.strip()))
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown target {', '.join(map(repr, unknown)) or repr(raw)}; "
                                         f"known: {', '.join(TARGETS)} (comma-separated, e.g. host,avx2)")
    return names


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
