"""Your model as you trained it: the reference weights as a PyTorch module (NCHW, normalized input, logits out;
examples/pytorch/resnet8_torchstyle.py, built here from the reference ONNX), exported as .pt2 and as a dynamo .onnx
with external data, gated with its contract on the command line, and a wrong contract refused before any test."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ("--ptq-input-scale", "0.00392156862745098", "--ptq-input-mean", "0.4914,0.4822,0.4465",
            "--ptq-input-std", "0.2470,0.2435,0.2616")
REFERENCE_CORRECT = 8719
CONVERTER_SLACK = 2  # images whose top-1 a converter's float arithmetic may move (stated in docs/running.md)


@pytest.fixture(scope="module")
def exported(ptq_store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding resnet8_torchstyle.pt2, .onnx and .onnx.data, exported from the reference weights."""
    out = tmp_path_factory.mktemp("torchstyle")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "pytorch" / "resnet8_torchstyle.py"),
                           str(ptq_store.source), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _pytest(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(RESNET8_PTQ_CACHE=str(cache))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)


def test_a_wrong_layout_stops_the_run_before_any_test_naming_the_option_and_the_shape(exported: Path,
                                                                                      tmp_path: Path) -> None:
    proc = _pytest(f"--ptq-model={exported / 'resnet8_torchstyle.onnx'}", "--ptq-input-layout", "nhwc", *CONTRACT,
                   cache=tmp_path)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]  # a usage error: nothing ran
    lines = [line for line in proc.stderr.splitlines() if "--ptq-input-layout" in line]
    assert lines == [f"ERROR: --ptq-input-layout nhwc: --ptq-model {exported / 'resnet8_torchstyle.onnx'} has input "
                     f"'x' of shape (N, 3, 32, 32), which is NCHW, channels first; pass --ptq-input-layout nchw (or "
                     f"auto, which reads the layout from the input's shape)"], proc.stderr
    assert "Traceback" not in proc.stderr and " passed" not in proc.stdout


@pytest.mark.parametrize("suffix", [".pt2", ".onnx"])
def test_the_torch_style_model_is_gated_in_its_own_contract_on_every_framework(exported: Path, suffix: str,
                                                                                ptq_store, tmp_path: Path) -> None:
    """fp32 8,719 +- 2 on every framework that runs here, every seed int8 row passes its gates, nothing skipped
    for the contract (LiteRT rows only where their converter's environment is prepared)."""
    model = exported / f"resnet8_torchstyle{suffix}"
    results = tmp_path / "results.json"
    proc = _pytest("-n", "2", f"--ptq-model={model}", *CONTRACT, f"--ptq-json={results}", "-rs",
                   cache=ptq_store.settings.cache)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "input contract: input 'x' float32 NCHW (N, 3, 32, 32) = (pixels x 0.00392157 - mean " \
           "0.4914,0.4822,0.4465) / std 0.247,0.2435,0.2616; logits out" in proc.stdout
    data = json.loads(results.read_text())
    assert data["meta"]["model"]["contract"]["output"] == "logits"
    fp32 = {m["id"]: m["correct"] for m in data["models"] if m["dtype"] == "fp32"}
    assert {"ort-fp32", "torch-fp32", "ov-fp32"} <= set(fp32)
    assert all(abs(c - REFERENCE_CORRECT) <= CONVERTER_SLACK for c in fp32.values()), fp32
    failed = {key: gates for key, gates in data["gates"].items() if gates}
    assert not failed, failed
    skipped_for_contract = [line for line in proc.stdout.splitlines()
                            if line.startswith("SKIPPED") and ("contract" in line or "layout" in line)]
    assert not skipped_for_contract, skipped_for_contract
