"""The Arm targets without emulating anything: registry, CPU-facts decoding and checks, the fp32 probe and the
fault checks, the offline message, and that a faulty evaluation leaves nothing in the cache."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.core.artifacts import cached, get_or_build
from ptq_helpers.core.isa import cpu_facts
from ptq_helpers.matrix import cases
from ptq_helpers.targets import arm64, arm_cpu, arm_setup
from ptq_helpers.targets import base as targets, registry
from ptq_helpers.targets.arm64 import ARM64_A72, ARM64_MAX, ARM64_N1
from ptq_helpers.targets.base import TargetError, check_cpu

A72 = arm_cpu.decode(0b1_1111_1011, 0, 0x410FD083)  # fp asimd aes pmull sha1 sha2 crc32 cpuid (as qemu's a72)
N1 = arm_cpu.decode(0b1_1111_1011 | 1 << 20 | 1 << 8, 0, 0x414FD0C1)  # + asimddp, atomics


def test_arm_targets_are_registered_and_parsed() -> None:
    assert registry.parse_targets("host,arm64-a72,arm64-n1,arm64-max") == ("host", "arm64-a72", "arm64-n1", "arm64-max")
    with pytest.raises(argparse.ArgumentTypeError, match="known: host, avx2, mcu, arm64-a72, arm64-n1, arm64-max"):
        registry.parse_targets("arm")
    for target in (ARM64_A72, ARM64_N1, ARM64_MAX):
        assert target.applies(cases.get("ort-int8-qdq")) and target.applies(cases.get("litert-int8"))
        assert not target.host_is_target() or targets._host_machine() == "aarch64"
        assert target.mode(cases.get("ort-int8-qdq")) == "qemu"
        assert target.how(cases.get("litert-int8")).startswith(f"qemu-aarch64 -cpu {target.qemu_cpu}")
        assert "ptq_helpers.targets.arm64" in target.code_modules
        assert target.qemu_cpu in arm_setup.CPUS  # the CPUs `python -m ptq_helpers.targets.arm_setup` prepares
    assert ARM64_MAX.qemu_cpu == "max,sme=off"  # qemu 7.2 runs XNNPACK's SME path wrongly


def test_openvino_and_pytorch_on_arm_are_skips_that_say_what_was_measured() -> None:
    """They take part in an Arm run as skips naming the measured error or cost, never silently absent."""
    from ptq_helpers.pytest_plugin.parametrize import PARAMETRIZED

    builds = {str(b) for b in PARAMETRIZED["model"][0](("host", "arm64-n1"), ())}
    assert {"ov-int8-nncf@arm64-n1", "torch-int8-fx@arm64-n1", "ort-int8-qdq@arm64-n1"} <= builds
    for target in (ARM64_A72, ARM64_N1, ARM64_MAX):
        assert "hours per 10,000 images" in target.missing_tool(cases.get("ov-int8-nncf"))
        assert "CUDA build" in target.missing_tool(cases.get("torch-int8-fx"))
        assert "not run" not in (target.missing_tool(cases.get("ort-int8-qdq")) or "")  # ORT runs (given qemu)


def test_hwcap_and_midr_decode() -> None:
    assert A72["model_name"] == "Cortex-A72" and not A72["flags"]["asimddp"] and A72["flags"]["asimd"]
    assert N1["model_name"] == "Neoverse-N1" and N1["flags"]["asimddp"]
    text = arm_cpu.cpuinfo_text(N1, 2)
    assert text.count("processor\t:") == 2 and "CPU part\t: 0xd0c" in text and "asimddp" in text


def test_a_child_on_another_cpu_fails_the_check() -> None:
    assert check_cpu(ARM64_A72, A72) is None and check_cpu(ARM64_N1, N1) is None
    assert "saw asimddp" in check_cpu(ARM64_A72, N1)
    assert "instead of target arm64-n1's Neoverse-N1" in check_cpu(ARM64_N1, A72)
    host = check_cpu(ARM64_N1, cpu_facts())  # the x86 host's own CPU, as a native child would see it
    assert host is not None and "the emulated CPU was not the one asked for" in host


def test_probe_indices_are_stratified_and_fixed() -> None:
    labels = np.repeat(np.arange(10), 1000)[np.random.default_rng(0).permutation(10000)]
    idx = arm64.probe_indices(labels)
    assert len(idx) == 200 and (np.bincount(labels[idx]) == 20).all() and (np.diff(idx) > 0).all()
    assert (idx == arm64.probe_indices(labels)).all()


def _probs(n: int, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, 10)) * 4
    e = np.exp(z - z.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def test_fp32_probe_accepts_float_rounding_and_refuses_faults() -> None:
    host = _probs(200)
    facts = arm64.check_fp32_probe(ARM64_N1, host + np.float32(1e-6) * (host > 0.5), host)
    assert facts["images"] == 200 and facts["top1_agreement"] == 1.0
    with pytest.raises(TargetError, match="emulator or runtime fault on arm64-n1: the fp32 model on 200 probe"):
        arm64.check_fp32_probe(ARM64_N1, _probs(200, seed=1), host)
    with pytest.raises(TargetError, match="emulator or runtime fault on arm64-n1: the fp32 probe gave outputs"):
        arm64.check_fp32_probe(ARM64_N1, np.full((200, 10), np.nan, np.float32), host)


def test_a_build_that_mostly_disagrees_with_the_host_is_a_fault() -> None:
    host, idx = _probs(400), np.arange(0, 400, 2)
    assert arm64.check_build(ARM64_MAX, cases.get("litert-int8"), host, host, idx)["probe_top1_agreement_int8"] == 1.0
    with pytest.raises(TargetError, match="emulator or runtime fault on arm64-max: litert-int8 agrees"):
        arm64.check_build(ARM64_MAX, cases.get("litert-int8"), _probs(400, seed=3), host, idx)


def test_offline_without_the_userland_says_how_to_prepare_it(tmp_path: Path) -> None:
    with pytest.raises(arm_setup.ArmSetupError,
                       match=r"not prepared in .*arm64.*python -m ptq_helpers.targets.arm_setup"):
        arm_setup.userland(tmp_path, prepare=False)


def test_userland_key_follows_the_pinned_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    first = arm_setup.key()
    assert first == arm_setup.key() and len(first) == 16
    pinned = arm_setup.pins()
    monkeypatch.setattr(arm_setup, "pins", lambda: {**pinned, "onnxruntime": "0.0"})
    assert arm_setup.key() != first


def test_a_faulty_arm_evaluation_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The children return garbage (the emulator's fault, simulated): the evaluation fails as such, nothing cached."""
    labels = np.repeat(np.arange(10), 30)
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((300, 32, 32, 3), np.float32))
    host = _probs(300)
    monkeypatch.setattr(arm64, "predict", lambda case, target, model, npy, n, *a, **k:
                        (np.random.default_rng(0).normal(size=(n, 10)).astype(np.float32), {"cpu": {}}))

    def run(tmp: Path) -> None:
        probs, _ = arm64.evaluate(cases.get("ort-int8-qdq"), ARM64_N1, Path("m.onnx"), images, 300, tmp_path / "w",
                                  fp32_case=cases.get("ort-fp32"), fp32_model=Path("f.onnx"), host_fp32_probs=host,
                                  labels=labels, host_probs=host)
        np.save(tmp, probs)

    folder = tmp_path / "predictions" / "ort-int8-qdq@arm64-n1"
    with pytest.raises(TargetError, match="emulator or runtime fault on arm64-n1"):
        get_or_build(folder, "probs.npy", run, run_id="t")
    assert cached(folder, "probs.npy") is None


def test_one_apt_cache_call_tells_which_arm64_packages_have_a_candidate():
    policy = """python3.11-minimal:arm64:
  Installed: (none)
  Candidate: 3.11.2-6+deb12u9
  Version table:
     3.11.2-6+deb12u9 500
        500 http://deb.debian.org/debian-security bookworm-security/main arm64 Packages
libnsl2:arm64:
  Installed: (none)
  Candidate: (none)
  Version table:
libc6:arm64:
  Installed: (none)
  Candidate: 2.36-9+deb12u14
  Version table:
"""
    assert arm_setup._candidates(policy) == ["python3.11-minimal", "libc6"]
    assert arm_setup._candidates("") == []
