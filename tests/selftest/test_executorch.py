"""ExecuTorch on the real model: what the built .pte files execute in integer and in float (read from the files),
the positional layer names checked against the ONNX source, and builds that depend only on their inputs."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ptq_helpers.backends.executorch import backend as et
from ptq_helpers.backends.executorch.pte import executed_layers
from ptq_helpers.matrix import cases

pytestmark = pytest.mark.real

CONVS = [f"conv {i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def executorch_present() -> None:
    missing = cases.get("et-fp32").backend.missing()
    if missing:
        pytest.skip(missing)


def test_fp32_runs_every_layer_in_float(executorch_present, ptq_store) -> None:
    case = cases.get("et-fp32")
    facts = et.runtime_facts(case, ptq_store.artifact(case).path)
    assert facts["executed"]["integer"] == []
    assert facts["executed"]["float"] == [*CONVS, "fc"]
    assert facts["delegate"] == "XnnpackBackend: 1 delegated subgraph"
    assert facts["non-delegated ops"] == "none"


def test_int8_runs_the_convolutions_in_int8_and_the_matmul_in_float(executorch_present, ptq_store) -> None:
    """XNNPACKQuantizer annotates convolutions and F.linear, not the torch.matmul onnx2torch makes of the ONNX
    MatMul: the nine convolutions run as int8 XNNPACK kernels (qint8 input, qcint8 per-channel weights), the fully
    connected layer stays fp32."""
    case = cases.get("et-int8-xnnpack")
    path = ptq_store.artifact(case).path
    executed = et.runtime_facts(case, path)["executed"]
    assert executed["integer"] == CONVS, executed
    assert executed["float"] == ["fc"], executed
    assert len(executed["causes"]) == 1 and executed["causes"][0].startswith("fc: XNNFullyConnected with fp32")
    layers, _ = executed_layers(path)
    assert [(layer["input"], layer["weights"]) for layer in layers] == [("qint8", "qcint8")] * 9 + [("fp32", "fp32")]


def test_matmul_as_linear_makes_the_fully_connected_layer_int8_too(executorch_present, ptq_store) -> None:
    case = cases.get("et-int8-xnnpack-linear")
    path = ptq_store.artifact(case).path
    executed = et.runtime_facts(case, path)["executed"]
    assert executed["integer"] == [*CONVS, "fc"] and executed["float"] == [] and executed["causes"] == [], executed
    layers, _ = executed_layers(path)
    assert (layers[-1]["node"], layers[-1]["input"], layers[-1]["weights"]) == ("XNNFullyConnected", "qint8", "qcint8")


def test_the_rewrite_keeps_the_fp32_function(executorch_present, ptq_store) -> None:
    import torch

    from ptq_helpers.backends.pytorch.torch_graph import matmul_as_linear, onnx_to_torch

    plain, rewritten = onnx_to_torch(ptq_store.source), matmul_as_linear(onnx_to_torch(ptq_store.source))
    assert not any(type(m).__name__ == "OnnxMatMul" for m in rewritten.modules())
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (64, 32, 32, 3)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(plain(x), rewritten(x), atol=1e-5, rtol=0)


def test_positional_names_follow_the_onnx_node_order(executorch_present, ptq_store) -> None:
    """conv k / fc of the facts are the k-th Conv / the MatMul of the ONNX graph: every weight shape matches."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(ptq_store.source))
    weights = {init.name: numpy_helper.to_array(init).shape for init in model.graph.initializer}
    onnx_layers = [(n.name, weights[n.input[1]]) for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    for case_id in ("et-fp32", "et-int8-xnnpack", "et-int8-xnnpack-linear"):
        layers, _ = executed_layers(ptq_store.artifact(cases.get(case_id)).path)
        assert len(layers) == len(onnx_layers) == 10
        for layer, (name, shape) in zip(layers, onnx_layers):
            if layer["kind"] == "conv":  # XNNPACK: (out, kh, kw, in); ONNX: (out, in, kh, kw)
                o, kh, kw, i = layer["weight_dims"]
                assert (o, i, kh, kw) == tuple(shape), (case_id, name, layer)
            else:
                assert sorted(layer["weight_dims"]) == sorted(shape), (case_id, name, layer)


_CHILD = """
import sys, numpy as np
from pathlib import Path
from ptq_helpers.backends.executorch import backend as et
from ptq_helpers.backends.executorch.pte import executed_layers
from ptq_helpers.matrix import cases
et.build_int8(cases.get("et-int8-xnnpack"), Path(sys.argv[1]), np.load(sys.argv[2]), Path(sys.argv[3]))
"""


def test_a_build_depends_only_on_its_inputs(executorch_present, ptq_store, train_split, tmp_path) -> None:
    """The same source and calibration give a byte-identical .pte in this process (after other exports) and in a
    fresh one."""
    calibration = train_split.images(ptq_store.calibration_indices[::50])
    np.save(tmp_path / "calibration.npy", calibration)
    et.build_fp32(ptq_store.source, tmp_path / "warm-up.pte")  # other work in this process first
    et.build_int8(cases.get("et-int8-xnnpack"), ptq_store.source, calibration, tmp_path / "here.pte")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(ptq_store.source), str(tmp_path / "calibration.npy"),
                           str(tmp_path / "child.pte")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "here.pte").read_bytes() == (tmp_path / "child.pte").read_bytes()
