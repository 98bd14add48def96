"""Adding a framework is one module and its registry entry: a toy backend, registered from a conftest through
the public registry only, brings its own option (--ptq-toy-bits, part of its cache key) and its own size kind
(--ptq-min-size-reduction-npy), and flows into gates, summary, JSON and report."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.real

TOY_BACKEND = '''
"""A toy framework: mean colour x fixed weights; 'int8' stores the weights as `toy_bits`-bit integers (int8) plus
one scale."""
import numpy as np

WEIGHTS = np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32)


def build_fp32(source, dest):
    with open(dest, "wb") as fh:
        np.save(fh, WEIGHTS)


def build(case, source, calibration, dest, toy_bits):
    scale = np.abs(WEIGHTS).max() / (2 ** (toy_bits - 1) - 1)
    with open(dest, "wb") as fh:
        np.save(fh, np.round(WEIGHTS / scale).astype(np.int8))
    dest.with_name(dest.name + ".scale").write_text(repr(float(scale)))


def runner(case, path, threads):
    weights = np.load(path).astype(np.float32)
    scale_file = path.with_name(path.name + ".scale")
    if weights.dtype == np.float32 and scale_file.exists():
        weights = weights * float(scale_file.read_text())

    def run(x):
        logits = x.mean(axis=(1, 2)) @ weights
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return run
'''

CONFTEST = '''
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.options import Option, count_in

BITS = Option("toy_bits", "--ptq-toy-bits", "ptq_toy_bits", count_in(2, 8, "bits of an int8 weight"), 8,
              "bits of the toy's integer weights", "N")
cases.register(cases.Framework("toy", "Toy", "toy", build="toy_backend:build", build_fp32="toy_backend:build_fp32",
                               run="toy_backend:runner", tools="Toy `round(w / scale)`",
                               size_kind=cases.SizeKind("npy", "NumPy file", 60.0), options=(BITS,),
                               code=("toy_backend",)),
               {"npy": cases.Format("npy", "NumPy array")})
cases.add(cases.Case("toy-fp32", "toy", "fp32", "npy"), cases.Case("toy-int8", "toy", "int8", "npy"))
'''

TOY_TESTS = '''
from ptq_helpers.analysis import gates


def test_top1(model, ptq_thresholds):
    message = gates.accuracy(model.record, ptq_thresholds)
    assert message is None, message


def test_drop(quantized_model, ptq_thresholds):
    message = gates.drop(quantized_model.record, ptq_thresholds)
    assert message is None, message
'''


def test_a_toy_framework_flows_into_gates_summary_json_and_report(suite, ptq_session,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESNET8_PTQ_ASSETS", str(ptq_session.settings.assets.root))
    suite.makepyfile(toy_backend=TOY_BACKEND, test_gates=TOY_TESTS)
    suite.makeconftest((suite.path / "conftest.py").read_text() + CONFTEST)  # the project's fixtures, and the toy
    result = suite.runpytest_subprocess("-k", "toy", "--ptq-min-accuracy", "5", "--ptq-max-drop", "1",
                                        "--ptq-json", "r.json", "--ptq-report", "r.md")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "toy-fp32 * Toy * float32 * *% * - * 0.2 KiB * - * FAIL: fp32-pin",
        "toy-int8 * Toy * int8 * *% * *KiB * *% * FAIL: size",
        "toy-int8 * *% * * * * [[]*, *[]]",  # paired statistics row
    ])
    data = json.loads((suite.path / "r.json").read_text())
    toy = {m["id"]: m for m in data["models"]}
    assert set(toy) == {"toy-fp32", "toy-int8"} and toy["toy-int8"]["baseline_id"] == "toy-fp32"
    assert toy["toy-int8"]["total"] == 10_000 and "stats" in toy["toy-int8"]
    assert "is below 60.0% (--ptq-min-size-reduction-npy)" in data["gates"]["toy-int8"]["size"]
    assert data["thresholds"]["min_size_reduction_npy"] == 60.0
    assert "pinned fp32 baseline is 8719/10000" in data["gates"]["toy-fp32"]["fp32-pin"]
    text = (suite.path / "r.md").read_text()
    assert "### Toy" in text and "| `toy-int8` | NumPy array |" in text and "Toy `round(w / scale)`" in text

    # its own option: in --help, validated at parse time, and part of its models' cache key
    assert "--ptq-toy-bits" in suite.runpytest_subprocess("--help").stdout.str()
    bad = suite.runpytest_subprocess("-k", "toy", "--ptq-toy-bits", "9")
    assert bad.ret == 4 and "--ptq-toy-bits" in bad.stderr.str() and "not between 2 and 8" in bad.stderr.str()
    again = suite.runpytest_subprocess("-k", "toy", "--ptq-min-accuracy", "5", "--ptq-max-drop", "100",
                                       "--ptq-toy-bits", "2", "--ptq-json", "r2.json")
    again.assert_outcomes(passed=3)
    ternary = {m["id"]: m for m in json.loads((suite.path / "r2.json").read_text())["models"]}
    assert "toy-int8 model" in json.loads((suite.path / "r2.json").read_text())["meta"]["built"]
    assert ternary["toy-int8"]["sha256"] != toy["toy-int8"]["sha256"]
    assert ternary["toy-fp32"]["sha256"] == toy["toy-fp32"]["sha256"]  # not an input of the fp32 build

    # a change to its runner's code is a new prediction key: the next run re-evaluates, and the gate sees it
    (suite.path / "toy_backend.py").write_text(
        TOY_BACKEND.replace("logits = x.mean(axis=(1, 2)) @ weights", "logits = -(x.mean(axis=(1, 2)) @ weights)"))
    bar = ternary["toy-int8"]["accuracy"] - 0.5
    changed = suite.runpytest_subprocess("-k", "toy", "--ptq-min-accuracy", str(bar), "--ptq-max-drop", "100",
                                         "--ptq-toy-bits", "2", "--ptq-json", "r3.json")
    after = json.loads((suite.path / "r3.json").read_text())
    assert "toy-int8 predictions" in after["meta"]["built"]
    negated = {m["id"]: m for m in after["models"]}["toy-int8"]
    assert negated["sha256"] == ternary["toy-int8"]["sha256"]  # same file, other runner code
    assert negated["predictions_sha256"] != ternary["toy-int8"]["predictions_sha256"]
    assert changed.ret == 1 and "accuracy" in after["gates"]["toy-int8"], after["gates"]["toy-int8"]
