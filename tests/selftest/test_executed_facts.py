"""The executed-precision facts against the runtimes themselves, on the real builds: the counts the suite reports are
the counts in ONNX Runtime's own optimized graph, and a build known to fall back is seen falling back."""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest

from ptq_helpers.backends.onnxruntime import backend as ort
from ptq_helpers.matrix import cases

pytestmark = pytest.mark.real


def _optimized_counts(model: Path) -> Counter:
    """ONNX Runtime's optimized graph for this CPU, asked independently of the suite's matching code."""
    import onnx
    import onnxruntime as rt

    with tempfile.TemporaryDirectory() as tmp:
        opts = rt.SessionOptions()
        opts.log_severity_level = 3
        opts.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        rt.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        return Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)


@pytest.mark.parametrize("case_id", ["ort-int8-qdq", "ort-uint8-qdq", "ort-u8s8-qdq-pc-mm-pre"])
def test_ort_counts_match_its_optimized_graph(case_id: str, ptq_store) -> None:
    stored = ptq_store.artifact(cases.get(case_id))
    facts = ort.runtime_facts(cases.get(case_id), stored.path)["executed"]
    ops = _optimized_counts(stored.path)
    integer_ops = sum(n for op, n in ops.items() if op in ort.INTEGER_OPS)
    float_ops = sum(n for op, n in ops.items() if op in ort.FLOAT_OPS)
    assert (len(facts["integer"]), len(facts["float"])) == (integer_ops, float_ops), (facts, ops)
    assert len(facts["integer"]) + len(facts["float"]) == 10  # ResNet8: 9 Conv + 1 MatMul/Gemm, each matched once
    if float_ops:  # every float layer comes with ORT's reason when the QDQ file shows it
        assert len(facts["causes"]) == float_ops


@pytest.mark.skipif(__import__("platform").machine() not in ("x86_64", "AMD64"), reason="an x86 CPU EP fact")
def test_uint8_activations_make_every_conv_integer_on_x86(ptq_store) -> None:
    """The documented cause, checked: the S8S8 build runs convolutions in float on x86, U8S8 runs none."""
    s8 = ort.runtime_facts(cases.get("ort-int8-qdq"), ptq_store.artifact(cases.get("ort-int8-qdq")).path)
    u8 = ort.runtime_facts(cases.get("ort-u8s8-qdq-pc-mm-pre"),
                           ptq_store.artifact(cases.get("ort-u8s8-qdq-pc-mm-pre")).path)
    assert s8["executed"]["float"] and not u8["executed"]["float"]
