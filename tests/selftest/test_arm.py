"""The Arm targets for real, under qemu-aarch64 in the prepared userland (prepared on first use; skipped with the
setup's own message when that is impossible, e.g. offline): the emulated child sees the CPU it was given, a child
that sees another CPU fails the evaluation, and an emulator fault (garbage outputs) is reported as such and is not
cached. A tiny ONNX model (flatten, matmul, optional softmax) keeps each emulated child at a few seconds."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.core.artifacts import cached, get_or_build
from ptq_helpers.matrix import cases
from ptq_helpers.targets import arm64, arm_setup
from ptq_helpers.targets import base as targets, children
from ptq_helpers.targets.arm64 import ARM64_A72, ARM64_N1
from ptq_helpers.targets.base import TargetError

pytestmark = pytest.mark.skipif(arm_setup.qemu_aarch64() is None, reason="the Arm targets need qemu-user: "
                                "apt-get install qemu-user")


@pytest.fixture(scope="module")
def cache() -> Path:
    folder = arm_setup.default_cache()
    try:
        arm_setup.userland(folder)
    except arm_setup.ArmSetupError as exc:
        pytest.skip(str(exc))
    return folder


def host_launcher(target: targets.Target, cache: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """A broken launcher: the child runs on the host's own CPU instead of the emulated one."""
    return [sys.executable], dict(os.environ)


def tiny_model(path: Path, softmax: bool) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(3072, 10)).astype(np.float32) * 1e-3, "w")
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("MatMul", ["f", "w"], ["z"])]
    nodes += [helper.make_node("Softmax", ["z"], ["y"], axis=1)] if softmax else [helper.make_node("Neg", ["z"], ["y"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 32, 32, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def images(tmp_path: Path) -> Path:
    path = tmp_path / "images.npy"
    np.save(path, np.random.default_rng(1).uniform(0, 255, size=(40, 32, 32, 3)).astype(np.float32))
    return path


@pytest.mark.parametrize(("target", "dot_product", "model_name"),
                         [(ARM64_A72, False, "Cortex-A72"), (ARM64_N1, True, "Neoverse-N1")])
def test_the_emulated_child_sees_the_cpu_it_was_given(cache: Path, target: targets.Target, dot_product: bool,
                                                     model_name: str) -> None:
    launch, env = arm64.launch(target, cache)
    script = ("import json; from ptq_helpers.targets.arm_cpu import cpu_facts; "
              "print(json.dumps({**cpu_facts(), 'cpuinfo': open('/proc/cpuinfo').read()}))")
    proc = subprocess.run([*launch, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout)
    assert facts["model_name"] == model_name and facts["flags"]["asimddp"] is dot_product, facts
    assert targets.check_cpu(target, facts) is None
    # the cpuinfo library ONNX Runtime uses reads /proc/cpuinfo: the per-CPU root shows the emulated CPU there
    assert f"CPU part\t: {facts['part']}" in facts["cpuinfo"] and ("asimddp" in facts["cpuinfo"]) is dot_product


def test_evaluation_children_report_the_arm_cpu(cache: Path, images: Path, tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny.onnx", softmax=True)
    probs, facts = children.predict(cases.get("ort-fp32"), ARM64_N1, model, images, 40, 1, tmp_path / "w", cache=cache)
    assert probs.shape == (40, 10) and facts["cpu"]["model_name"] == "Neoverse-N1"
    assert facts["emulator"].startswith("qemu-aarch64 version") and facts["runtime"]["machine"] == "aarch64"
    assert facts["runtime"]["onnxruntime"] == arm_setup.pins()["onnxruntime"]


@pytest.mark.parametrize("wrong", ["host", "neoverse-n1"])
def test_a_child_that_sees_another_cpu_fails_the_evaluation(cache: Path, images: Path, tmp_path: Path,
                                                           wrong: str) -> None:
    """On the host's CPU (a launcher that forgets the emulator), or on an emulated CPU other than asked for."""
    model = tiny_model(tmp_path / "tiny.onnx", softmax=True)
    target = (dataclasses.replace(ARM64_A72, launcher=f"{__name__}:host_launcher") if wrong == "host"
              else dataclasses.replace(ARM64_A72, qemu_cpu="neoverse-n1"))
    expected = "instead of target arm64-a72's Cortex-A72" if wrong == "host" else "saw asimddp"
    with pytest.raises(TargetError, match=expected):
        children.predict(cases.get("ort-fp32"), target, model, images, 40, 1, tmp_path / "w", cache=cache)


def test_an_emulator_fault_is_reported_as_such_and_not_cached(cache: Path, tmp_path: Path) -> None:
    """The children's outputs are garbage (not probabilities, unlike the host's): a fault, never a regression."""
    path = tmp_path / "images.npy"
    labels = np.repeat(np.arange(10), 2)
    np.save(path, np.random.default_rng(1).uniform(0, 255, size=(20, 32, 32, 3)).astype(np.float32))
    good, garbage = tiny_model(tmp_path / "good.onnx", True), tiny_model(tmp_path / "garbage.onnx", False)
    from ptq_helpers.backends import evaluate

    host = evaluate.predict(cases.get("ort-fp32"), good, np.load(path), 1)
    folder = tmp_path / "predictions" / "ort-int8-qdq@arm64-n1"

    def run(tmp: Path) -> None:
        probs, _ = arm64.evaluate(cases.get("ort-int8-qdq"), ARM64_N1, good, path, 20, tmp_path / "w",
                                  fp32_case=cases.get("ort-fp32"), fp32_model=garbage, host_fp32_probs=host,
                                  labels=labels, host_probs=host, cache=cache)
        np.save(tmp, probs)

    with pytest.raises(TargetError, match="emulator or runtime fault on arm64-n1: the fp32 probe gave outputs"):
        get_or_build(folder, "probs.npy", run, run_id="t")
    assert cached(folder, "probs.npy") is None


def test_an_arm_evaluation_reuses_the_hosts_predictions_of_the_same_build(ptq_store, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's predictions of the build and of its fp32 (the probe's reference and the agreement column) come from
    the host's cache entries; an Arm evaluation builds one entry, its own (it once re-evaluated the host under the
    `@arm64-n1` name). The emulated children are replaced by the host's answers: only the store's wiring is tested."""
    from ptq_helpers.store import models

    store = models.Store(dataclasses.replace(ptq_store.settings, cache=tmp_path / "cache"))
    events: list = []
    store.on_event = events.append
    case = cases.get("ort-int8-qdq")
    store.result(case)  # the host entries: ort-int8-qdq and ort-fp32
    host = {e.case for e in events if e.what == "predictions" and e.built}
    assert host == {"ort-int8-qdq", "ort-fp32"}, host

    def host_answers(case, target, model, images, total, work, *, host_probs, host_fp32_probs, **kwargs):
        return (host_fp32_probs if host_probs is None else host_probs), {"wall_s": 0.0, "children": 0}

    def no_host_evaluation(*args, **kwargs):
        raise AssertionError("the host was evaluated again for an Arm evaluation")

    monkeypatch.setattr(arm64, "evaluate", host_answers)  # the Arm targets' evaluator runs it
    monkeypatch.setattr(models.evaluate, "predict", no_host_evaluation)  # the runners' module (the host's too)
    del events[:]
    store.result(case, target=ARM64_N1)
    built = [e.case for e in events if e.what == "predictions" and e.built]
    assert built == ["ort-int8-qdq@arm64-n1"], built
