"""Deployment targets from outside: the emulated CPU is really restricted, a bad target name is a usage error,
failing evaluation children are explained (the avx2 gates themselves run through the ordinary gate tests,
`--ptq-targets=host,avx2`)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.targets import base as targets, children
from ptq_helpers.core.isa import qemu_binary
from ptq_helpers.targets.avx2 import AVX2
from ptq_helpers.targets.base import TargetError

needs_qemu = pytest.mark.skipif(qemu_binary() is None, reason="target avx2 needs qemu-user: apt-get install qemu-user")


@needs_qemu
def test_emulated_cpu_lacks_avx512_and_vnni() -> None:
    """Read CPUID inside a child started exactly as the avx2 evaluation children are."""
    proc = subprocess.run([qemu_binary(), "-cpu", AVX2.qemu_cpu, sys.executable, "-m", "ptq_helpers.core.isa"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout)
    assert facts["source"] == "cpuid" and facts["flags"]["avx2"], facts
    seen = [f for f in AVX2.forbidden_flags if facts["flags"][f]]
    assert not seen, f"qemu -cpu {AVX2.qemu_cpu} still exposes {seen}"
    assert "Haswell" in facts["model_name"]


def test_unknown_target_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--ptq-targets=host,arm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --ptq-targets: unknown target 'arm'; known: host, avx2, mcu*"])


def test_a_failing_child_names_its_shard_command_and_stderr(tmp_path: Path) -> None:
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((4, 32, 32, 3), np.float32))
    bogus = tmp_path / "model.onnx"
    bogus.write_text("not a model")
    native_child = targets.Target("native", "this CPU, in a child process", env_formats=frozenset({"onnx"}))
    with pytest.raises(TargetError) as info:
        children.predict(cases.get("ort-fp32"), native_child, bogus, images, 4, 1, tmp_path / "work", workers=2)
    text = str(info.value)
    assert "evaluation child for images[0:2]" in text and "exited with 1" in text
    assert "reproduce with: " in text and "-m ptq_helpers.targets.child --case ort-fp32" in text
    assert "last stderr lines:" in text and "INVALID_PROTOBUF" in text


@needs_qemu
def test_a_killed_emulator_fails_the_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A qemu that dies (here: killed by SIGKILL as soon as it starts) is a failure, not missing rows."""
    killer = tmp_path / "qemu-x86_64"
    killer.write_text("#!/bin/sh\nkill -9 $$\n")
    killer.chmod(0o755)
    monkeypatch.setattr(targets, "qemu_binary", lambda: str(killer))  # what missing_tool checks
    monkeypatch.setattr(children, "qemu_binary", lambda: str(killer))  # what the children are started with
    monkeypatch.setattr(targets, "_host_flags", lambda: {"avx2": True, "avx512f": True})  # else avx2 runs natively
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((4, 32, 32, 3), np.float32))
    with pytest.raises(TargetError, match=r"on target avx2 exited with -9; reproduce with: .*qemu-x86_64 -cpu Haswell"):
        children.predict(cases.get("ort-fp32"), AVX2, Path("/nonexistent.onnx"), images, 4, 1, tmp_path / "w")
