"""Adding a deployment target is one module and its registry entry: a toy target (its own evaluator, declared by a
`Target` and registered from a conftest through the public registry only) gets its `@toy` items on every gate, its
records in the JSON and its column in the report, as the toy framework of test_new_framework.py gets its rows."""
from __future__ import annotations

import json

import pytest

from tests.selftest.test_new_framework import CONFTEST as TOY_FRAMEWORK, TOY_BACKEND, TOY_TESTS

pytestmark = pytest.mark.real

TOY_TARGET = '''
"""A toy target: the build's own runner, in this process, on images with 4-bit pixels (a coarse camera)."""
import time

import numpy as np

from ptq_helpers.backends import evaluate


def evaluate_here(target, request):
    started = time.perf_counter()
    coarse = np.round(request.images() / 17) * 17
    probs = request.probabilities(evaluate.predict(request.case, request.model, coarse, request.threads))
    return probs, {"target": target.name, "how": target.how(request.case), "mode": "child", "children": 0,
                   "wall_s": round(time.perf_counter() - started, 1), "cpu": {}, "runtime": {}}
'''

CONFTEST = '''
from ptq_helpers.targets import registry
from ptq_helpers.targets.base import Target

registry.register(Target("toy", "a toy camera with 4-bit pixels", evaluation="child",
                         evaluator="toy_target:evaluate_here", runner_label="4-bit pixels",
                         formats=frozenset({"npy"}), code=("toy_target",)))
'''


def test_a_toy_target_flows_into_gates_json_and_report(suite, ptq_session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESNET8_PTQ_ASSETS", str(ptq_session.settings.assets.root))
    suite.makepyfile(toy_backend=TOY_BACKEND, toy_target=TOY_TARGET, test_gates=TOY_TESTS)
    suite.makeconftest((suite.path / "conftest.py").read_text() + TOY_FRAMEWORK + CONFTEST)
    # -o (the ini value, read after the conftest registered the target): --ptq-targets is checked when the command
    # line is first parsed, before any conftest is loaded
    result = suite.runpytest_subprocess("-k", "toy", "-o", "ptq_targets=host,toy", "--ptq-min-accuracy", "5",
                                        "--ptq-max-drop", "100", "--ptq-json", "r.json", "--ptq-report", "r.md")
    result.assert_outcomes(passed=6)  # top-1 of both builds and the drop of int8, on host and on toy
    result.stdout.fnmatch_lines(["toy-int8@toy * Toy * int8 * *% * -0.* * FAIL: size",
                                 "*deployment targets: toy: a toy camera with 4-bit pixels*"])
    data = json.loads((suite.path / "r.json").read_text())
    on_toy = {m["id"]: m for m in data["models"] if m["target"] == "toy"}
    on_host = {m["id"]: m for m in data["models"] if m["target"] == "host"}
    assert set(on_toy) == set(on_host) == {"toy-fp32", "toy-int8"}
    assert on_toy["toy-int8"]["target_description"] == "a toy camera with 4-bit pixels"
    # the toy target's own evaluation: other images than the host's, so other answers
    assert on_toy["toy-int8"]["predictions_sha256"] != on_host["toy-int8"]["predictions_sha256"]
    assert "toy via 4-bit pixels in child processes" in data["meta"]["targets"], data["meta"]["targets"].keys()
    assert "toy" in (suite.path / "r.md").read_text()
