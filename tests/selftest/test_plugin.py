"""The plugin's behaviour seen from outside (pytester runs): options, usage errors, summary, xdist gathering."""
from __future__ import annotations

from pathlib import Path

import pytest

from ptq_helpers.matrix import cases

from tests.fakes import FAKE_RESULTS


def test_help_lists_every_option(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--help")
    result.stdout.fnmatch_lines(["*resnet8-ptq: inputs and cache*", "*--assets-dir*",
                                 "*--ptq-cache-dir*", "*--ptq-rebuild*", "*--ptq-matrix*", "*--ptq-seed*",
                                 "*--ptq-calibration-per-class*", "*--ptq-threads*", "*--ptq-json=PATH*",
                                 "*--ptq-report=PATH*",
                                 "*--ptq-min-accuracy=N*", "*--ptq-max-drop=N*", "*--ptq-min-size-reduction-onnx=N*",
                                 "*--ptq-min-size-reduction-torch=N*", "*--ptq-max-class-drop=N*",
                                 "*--ptq-fp32-correct=N*", "*--ptq-gate-margin={point,ci}*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--ptq-min-accuracy", "101"], "*--ptq-min-accuracy: 101.0 is outside 0..100*"),
     (["--ptq-max-drop", "abc"], "*--ptq-max-drop: 'abc' is not a number*"),
     (["--assets-dir", "/no/such/dir"], "*--assets-dir=/no/such/dir: folder /no/such/dir does not exist*"),
     (["--ptq-threads", "0"], "*--ptq-threads: 0 is not between 1 and * (this process may use * cores*"),
     (["--ptq-threads", "2000"], "*--ptq-threads: 2000 is not between 1 and * (this process may use * cores*"),
     (["--ptq-threads", "1e11"], "*--ptq-threads: '1e11' is not an integer*"),
     (["--ptq-model", "weights.txt"],
      "*--ptq-model: weights.txt: give an fp32 CIFAR-10 ResNet8 as .onnx, as a Keras .h5 or as a torch.export*"),
     (["--ptq-model", "/no/such.onnx"], "*--ptq-model: /no/such.onnx: no such file*"),
     (["--ptq-calibration-per-class", "0"], "*--ptq-calibration-per-class: 0 is not between 1 and 5000*"),
     (["--ptq-calibration-per-class", "5001"], "*--ptq-calibration-per-class: 5001 is not between 1 and 5000*"),
     (["--ptq-seed", "-1"], "*--ptq-seed: -1 is not between 0 and 4294967295 (numpy's legacy seed range)*")],
    ids=["accuracy-101", "drop-nan", "assets-missing", "threads-0", "threads-2000", "threads-1e11", "model-suffix",
         "model-missing", "per-class-0", "per-class-5001", "seed-negative"],
)
def test_bad_options_are_usage_errors(suite: pytest.Pytester, args: list[str], message: str) -> None:
    result = suite.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_header_and_summary_table(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fake=FAKE_RESULTS)
    result = suite.runpytest("--ptq-json=out.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "resnet8-ptq: numpy *, onnxruntime *",
        f"resnet8-ptq: matrix seed ({len(cases.selected('seed'))} configurations); calibration seed 42, 100/class from "
        "train*",
        "*resnet8-ptq results*",
        "Model * Framework * Data type * Accuracy * Δ vs fp32 * Size * Size reduction * Executed * Gates",
        "ort-fp32 * ONNX Runtime * float32 * 87.19% * - * 312.5 KiB * - * pass",
        "ort-int8-qdq * ONNX Runtime * int8 * 86.12% * -1.07 * 122.1 KiB * 60.9% * pass",
        "torch-uint8-fx * PyTorch * uint8 * N/A * N/A * N/A * not supported *",
        "NOTE: torch-uint8-fx is not supported: fbgemm requires qint8 weights",
        "results written to */out.json",
    ])
    assert '"ort-int8-qdq"' in (suite.path / "out.json").read_text()


def test_summary_and_report_gather_results_from_xdist_workers(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fake=FAKE_RESULTS)
    result = suite.runpytest_subprocess("-n", "2", "-p", "xdist", "--ptq-min-accuracy=87",
                                        "--ptq-json=out/r.json", "--ptq-report=out/r.md")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["ort-fp32 * 87.19% * pass", "ort-int8-qdq * 86.12% * -1.07 * FAIL: accuracy",
                                 "report written to */out/r.md*"])
    text = (suite.path / "out" / "r.md").read_text()
    assert "| `ort-int8-qdq` | 86.12% | -1.07 |" in text and "**Fail**" in text
    from ptq_helpers.report.document import main

    assert main([str(suite.path / "out" / "r.json"), "-o", str(suite.path / "cli" / "r.md")]) == 0
    assert (suite.path / "cli" / "r.md").read_bytes() == (suite.path / "out" / "r.md").read_bytes()


def test_bad_asset_is_one_clear_line_not_a_traceback(suite: pytest.Pytester) -> None:
    (suite.path / "resnet8.onnx").write_text("<html>not a model</html>")
    suite.makepyfile(test_real="def test_needs_the_model(model):\n    pass\n")
    result = suite.runpytest("-k", "ort-fp32")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*resnet8.onnx: not a valid ONNX model (*); replace it with resnet8.onnx or "
                                 "delete it so it is converted from the .h5"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*site-packages*")


def test_suite_runs_with_an_unwritable_cache(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESNET8_PTQ_CACHE", "/proc/resnet8-ptq-readonly")  # not writable, even for root
    suite.makepyfile(test_fake=FAKE_RESULTS)
    result = suite.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["resnet8-ptq: assets * cache /tmp/resnet8-ptq-* (cache folder "
                                 "/proc/resnet8-ptq-readonly is not writable (*); using /tmp/resnet8-ptq-* instead)"])


PROGRESS = """
from ptq_helpers.core.progress import say

def test_long_step():
    say("building something slow ...")
"""


def test_progress_lines_are_shown_live_without_xdist(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_progress=PROGRESS)
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["[[]resnet8-ptq[]] building something slow ..."])


def test_progress_lines_reach_the_controller_from_xdist_workers(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_progress=PROGRESS)
    result = suite.runpytest_subprocess("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["[[]resnet8-ptq[]] building something slow ... (gw?)"])


def test_a_run_on_mixed_cpus_fails_with_one_explanation(suite: pytest.Pytester) -> None:
    suite.makeconftest((Path(__file__).resolve().parents[2] / "conftest.py").read_text() + '''
import os
import ptq_helpers.pytest_plugin.session as _session
_session.machine = lambda: {"host": os.environ["PYTEST_XDIST_WORKER"], "cpu": "Test CPU",
                            "flags": ["avx2"] + (["avx512_vnni"] if os.environ["PYTEST_XDIST_WORKER"] == "gw0" else [])}
''')
    suite.makepyfile(test_two="def test_a():\n    pass\n\n\ndef test_b():\n    pass\n")
    result = suite.runpytest_subprocess("-n", "2", "-p", "xdist", "test_two.py")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*the xdist workers ran on different kinds of CPU*",
                                 "*Test CPU [[]avx2, avx512_vnni[]]: gw0 on gw0", "*Test CPU [[]avx2[]]: gw1 on gw1",
                                 "*python -m ptq_helpers.report A.json B.json*",
                                 "FAILED resnet8-ptq::machines - the xdist workers ran on different kinds of CP*",
                                 "*1 failed, 2 passed*"])


def test_a_model_that_breaks_the_contract_is_one_usage_error(suite: pytest.Pytester) -> None:
    (suite.path / "mine.onnx").write_bytes(b"not onnx at all")
    result = suite.runpytest_subprocess("--ptq-model", "mine.onnx")  # own process: onnx parses the garbage
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --ptq-model */mine.onnx: */mine.onnx: not a valid ONNX model*"])
