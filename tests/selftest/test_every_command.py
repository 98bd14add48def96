"""Every documented command on every model source: the reference .onnx, MLPerf's Keras .h5, a PyTorch-style NCHW
normalized-logits .onnx with external data, and a torch.export .pt2 (both made here from the reference weights by
examples/pytorch/resnet8_torchstyle.py). All four carry the same weights, so each cell that runs must give the
reference's numbers: fp32 8,719 of 10,000, and the int8 builds within a point of the reference source's.

Each cell is a child `pytest` sharing this run's cache (warm after the gate), on a small `-k` subset, in `.ci/run`'s
self-test step (after the gate, the Arm userland and litert-torch's environment are prepared); the slow cells of the
sources other than the .pt2 carry the `long_cell` marker (`pytest -m long_cell tests/selftest/test_every_command.py`).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ["--ptq-input-scale=0.00392156862745098", "--ptq-input-mean=0.4914,0.4822,0.4465",
            "--ptq-input-std=0.2470,0.2435,0.2616"]
SOURCES = ("onnx", "h5", "torch-onnx", "pt2")
# The cells that evaluate 10,000 images under an emulator or TFLite Micro, build the fast matrix or run the size
# search cost minutes each, cold: .ci/run runs them for the .pt2 (the source with the most conversions between it
# and each runtime) and leaves the other sources' to `-m long_cell` (docs/running.md#every-command-on-your-model).
SLOW_SOURCES = [pytest.param(s, marks=() if s == "pt2" else pytest.mark.long_cell) for s in SOURCES]
FAST_INT8 = "ort-u8s8-qdq-pc-mm-pre"  # the seed's fast integer build: runs on every source and target
GATE_K = f"test_accuracy_gates and (ort-fp32 or {FAST_INT8} or litert-int8)"
REFERENCE_CORRECT = 8719


@pytest.fixture(scope="module")
def torchstyle(ptq_store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("torchstyle")
    proc = subprocess.run([sys.executable, str(ROOT / "examples/pytorch/resnet8_torchstyle.py"),
                           str(ptq_store.source), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def source_args(torchstyle: Path, ptq_session) -> dict[str, list[str]]:
    h5 = ptq_session.settings.assets.h5_model()
    return {"onnx": [], "h5": [f"--ptq-model={h5}"],
            "torch-onnx": [f"--ptq-model={torchstyle / 'resnet8_torchstyle.onnx'}", *CONTRACT],
            "pt2": [f"--ptq-model={torchstyle / 'resnet8_torchstyle.pt2'}", *CONTRACT]}


def _pytest(*args: str, cache: Path, assets: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(RESNET8_PTQ_CACHE=str(cache), RESNET8_PTQ_ASSETS=str(assets))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)


def _said(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


@pytest.fixture(scope="module")
def gated(source_args: dict[str, list[str]], ptq_session, tmp_path_factory: pytest.TempPathFactory):
    """The CI job's gate command (JUnit XML, results JSON, report) on a subset, once per source: its results."""
    done: dict[str, dict] = {}

    def run(source: str) -> dict:
        if source not in done:
            out = tmp_path_factory.mktemp(f"gate-{source}")
            proc = _pytest("-n", "2", "-k", GATE_K, f"--junitxml={out / 'junit.xml'}",
                           f"--ptq-json={out / 'results.json'}", f"--ptq-report={out / 'report.md'}",
                           *source_args[source], cache=ptq_session.settings.cache,
                           assets=ptq_session.settings.assets.root)
            assert proc.returncode == 0, _said(proc)
            data = json.loads((out / "results.json").read_text())
            done[source] = {"path": out / "results.json", "data": data,
                            "models": {m["id"]: m for m in data["models"]}, "out": out}
        return done[source]
    return run


@pytest.mark.parametrize("source", SOURCES)
def test_the_gate_gives_the_reference_numbers(source: str, gated) -> None:
    """fp32 8,719/10,000 on every source (same weights), the int8 builds within a point of the reference's."""
    mine, reference = gated(source), gated("onnx")
    assert mine["models"]["ort-fp32"]["correct"] == REFERENCE_CORRECT
    for build in (FAST_INT8, "litert-int8"):
        if build in mine["models"] and build in reference["models"]:
            ours, theirs = mine["models"][build]["accuracy"], reference["models"][build]["accuracy"]
            assert abs(ours - theirs) <= 1.0, f"{source}: {build} {ours}% vs the reference source's {theirs}%"
    assert FAST_INT8 in mine["models"]
    assert "litert-int8" in mine["models"], "every source reaches LiteRT (the .h5 directly, others via litert-torch)"


@pytest.mark.parametrize("source", SOURCES)
def test_the_report_and_compare_clis_read_its_results(source: str, gated, tmp_path: Path) -> None:
    from tests.fakes import cli

    mine, reference = gated(source), gated("onnx")
    report = cli("ptq_helpers.report", mine["path"], "-o", tmp_path / "report.md")
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert FAST_INT8 in (tmp_path / "report.md").read_text()
    summary = cli("ptq_helpers.report", mine["path"], "--summary", "-o", tmp_path / "summary.md")
    assert summary.returncode == 0, summary.stderr
    same = cli("ptq_helpers.compare", mine["path"], mine["path"])
    assert same.returncode == 0, same.stdout + same.stderr
    across = cli("ptq_helpers.compare", reference["path"], mine["path"])
    assert across.returncode in (0, 1) and "Traceback" not in across.stderr and FAST_INT8 in across.stdout


@pytest.mark.parametrize("source", SOURCES)
def test_benchmark_only_times_fp32_and_int8_with_ratios(source: str, gated, source_args, ptq_session) -> None:
    gated(source)  # the gate's predictions are what the timed models' accuracy is read from
    proc = _pytest("--benchmark-only", "--benchmark-max-time=0.5", "-k", f"ort-fp32 or {FAST_INT8}",
                   *source_args[source], cache=ptq_session.settings.cache, assets=ptq_session.settings.assets.root)
    assert proc.returncode == 0, _said(proc)
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.split()[:1] in (["ort-fp32"],
                                                                                               [FAST_INT8])}
    table = proc.stdout[proc.stdout.find("accuracy x size x speed"):]
    assert "ort-fp32" in table and FAST_INT8 in table, _said(proc)
    assert re.search(rf"{FAST_INT8}\s.*\d\.\d\dx \[", table), _said(proc)
    assert rows


@pytest.mark.parametrize("source", SLOW_SOURCES)
def test_the_fast_matrix_runs(source: str, source_args, ptq_session) -> None:
    proc = _pytest("-n", "2", "--ptq-matrix=fast", "-k", "test_top1_above_minimum and (torch-int8-pt2e or et-int8)",
                   *source_args[source], cache=ptq_session.settings.cache, assets=ptq_session.settings.assets.root)
    assert proc.returncode == 0, _said(proc)
    assert re.search(r"\b2 passed", proc.stdout), _said(proc)


@pytest.mark.parametrize("source", SLOW_SOURCES)
def test_targets_host_avx2_mcu(source: str, source_args, ptq_session) -> None:
    """mcu runs (TFLite Micro on 10,000 images); avx2 runs where this host is an AVX2-only CPU, and is collected for
    every build where it would be emulated (hours under qemu: docs/targets.md)."""
    common = ("--ptq-targets=host,avx2,mcu", *source_args[source])
    where = dict(cache=ptq_session.settings.cache, assets=ptq_session.settings.assets.root)
    native = subprocess.run([sys.executable, "-m", "ptq_helpers.targets", "--native", "avx2"],
                            capture_output=True, text=True).returncode == 0
    k = f"test_top1_above_minimum and ((litert-int8 and mcu){f' or ({FAST_INT8} and avx2)' if native else ''})"
    proc = _pytest("-n", "2", "-k", k, *common, **where)
    assert proc.returncode == 0 and re.search(rf"\b{2 if native else 1} passed", proc.stdout), _said(proc)
    if not native:
        listed = _pytest("--collect-only", "-q", "-k", f"{FAST_INT8} and avx2", *common, **where)
        assert listed.returncode == 0 and f"[{FAST_INT8}@avx2]" in listed.stdout, _said(listed)


@pytest.mark.parametrize("source", SLOW_SOURCES)
def test_an_arm_target(source: str, source_args, ptq_session) -> None:
    from ptq_helpers.targets import arm_setup

    try:
        arm_setup.userland(ptq_session.settings.cache, prepare=False)
    except arm_setup.ArmSetupError as exc:
        pytest.skip(str(exc))  # .ci/run prepares it before the self-tests
    proc = _pytest("-n", "2", "--ptq-targets=host,arm64-n1", "-k", f"test_top1_above_minimum and {FAST_INT8} and arm64",
                   *source_args[source], cache=ptq_session.settings.cache, assets=ptq_session.settings.assets.root)
    assert proc.returncode == 0 and re.search(r"\b1 passed", proc.stdout), _said(proc)


@pytest.mark.parametrize("source", SLOW_SOURCES)
def test_the_size_search(source: str, source_args, ptq_session, tmp_path: Path) -> None:
    """On a Keras-named model the search scores each conv layer at 4 bits on images fed through the model's contract
    and gates the chosen build; on a PyTorch program's LiteRT build (litert-torch keeps no Keras layer names) it is
    refused before any test in one line, instead of returning the 8-bit build as a 'search'."""
    proc = _pytest("-n", "2", "--ptq-search=size", "-k", "test_top1_above_minimum and litert-size-search",
                   f"--ptq-json={tmp_path / 'r.json'}", *source_args[source],
                   cache=ptq_session.settings.cache, assets=ptq_session.settings.assets.root)
    if source in ("torch-onnx", "pt2"):
        said = [line for line in (proc.stdout + proc.stderr).splitlines() if "Keras names" in line]
        assert proc.returncode == 4 and len(said) == 1 and "--ptq-search" in said[0], _said(proc)
        assert "Traceback" not in proc.stderr
        return
    assert proc.returncode == 0, _said(proc)
    search = json.loads((tmp_path / "r.json").read_text())["size_search"]
    assert search["sensitivity"], "the search scored no layer"
    assert search["chosen"] is not None and search["chosen"]["top1"] >= 85.0, search
