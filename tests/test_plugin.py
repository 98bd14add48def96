"""The plugin's behaviour seen from outside: options, usage errors, summary, xdist gathering."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]

FAKE_RESULTS = '''
from ptq_helpers.plugin_state import RECORDS

def _rec(cid, fw, dtype, correct, size):
    return {"id": cid, "framework": fw, "dtype": dtype, "format": "x", "baseline_id": cid.split("-")[0] + "-fp32",
            "correct": correct, "total": 10000, "accuracy": correct / 100, "per_class": [correct / 100] * 10,
            "size_bytes": size, "sha256": "0"}

def test_fp32(pytestconfig):
    pytestconfig.stash[RECORDS]["ort-fp32"] = _rec("ort-fp32", "onnxruntime", "fp32", 8719, 320000)

def test_int8(pytestconfig):
    pytestconfig.stash[RECORDS]["ort-int8-qdq"] = _rec("ort-int8-qdq", "onnxruntime", "int8", 8612, 125000)
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makepyprojecttoml((ROOT / "pyproject.toml").read_text().replace('testpaths = ["tests"]', ""))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("RESNET8_PTQ_ASSETS", str(pytester.path))
    monkeypatch.setenv("RESNET8_PTQ_CACHE", str(pytester.path / "cache"))
    return pytester


def test_help_lists_every_option(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--help")
    result.stdout.fnmatch_lines(["*ResNet8 post-training quantization gate*", "*--assets-dir*",
                                 "*--ptq-cache-dir*", "*--ptq-rebuild*", "*--ptq-seed*",
                                 "*--ptq-calibration-per-class*", "*--ptq-threads*", "*--ptq-json=PATH*",
                                 "*--ptq-min-accuracy=N*", "*--ptq-max-drop=N*", "*--ptq-min-size-reduction-onnx=N*",
                                 "*--ptq-min-size-reduction-torch=N*", "*--ptq-max-class-drop=N*",
                                 "*--ptq-fp32-correct=N*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--ptq-min-accuracy", "101"], "*--ptq-min-accuracy: 101.0 is outside 0..100*"),
     (["--ptq-max-drop", "abc"], "*--ptq-max-drop: 'abc' is not a number*"),
     (["--assets-dir", "/no/such/dir"], "*--assets-dir=/no/such/dir: folder /no/such/dir does not exist*"),
     (["--ptq-threads", "0"], "*--ptq-threads=0: must be at least 1*")],
    ids=["accuracy-101", "drop-nan", "assets-missing", "threads-0"],
)
def test_bad_options_are_usage_errors(suite: pytest.Pytester, args: list[str], message: str) -> None:
    result = suite.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_header_and_summary_table(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fake=FAKE_RESULTS)
    result = suite.runpytest("--ptq-json", "out.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "resnet8-ptq: onnxruntime *", "resnet8-ptq: calibration seed 42, 100/class from train*",
        "*resnet8-ptq results*",
        "Model * Framework * Data type * Accuracy * Δ vs fp32 * Size * Size reduction * Gates",
        "ort-fp32 * ONNX Runtime * float32 * 87.19% * - * 312.5 KiB * - * pass",
        "ort-int8-qdq * ONNX Runtime * int8 * 86.12% * -1.07 * 122.1 KiB * 60.9% * pass",
        "torch-uint8-fx * PyTorch * uint8 * N/A * N/A * N/A * N/A — not supported (fbgemm requires qint8 weights)*",
        "results written to out.json",
    ])
    assert '"ort-int8-qdq"' in (suite.path / "out.json").read_text()


def test_summary_gathers_results_from_xdist_workers(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fake=FAKE_RESULTS)
    result = suite.runpytest_subprocess("-n", "2", "-p", "xdist", "--ptq-min-accuracy", "87")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["ort-fp32 * 87.19% * pass", "ort-int8-qdq * 86.12% * -1.07 * FAIL: accuracy"])
