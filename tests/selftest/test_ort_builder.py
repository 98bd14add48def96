"""ONNX Runtime builder details, on a tiny synthetic model: no writes beside the source, real Entropy."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.backends.onnxruntime import backend as quantize_ort
from ptq_helpers.matrix import cases
from tests.fakes import tiny_onnx


@pytest.fixture
def source(tmp_path: Path) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    path = tiny_onnx(assets / "resnet8.onnx", ["N", 32, 32, 3], ["N", 10])
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))  # give the weight real values so ranges are not degenerate
    w = np.random.default_rng(0).normal(0, 0.01, (3072, 10)).astype(np.float32)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    onnx.save(model, str(path))
    return path


def _calibration() -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.gamma(1.0, 40.0, (64, 32, 32, 3))).clip(0, 255).astype(np.float32)  # long-tailed pixels


@pytest.mark.parametrize("case_id", ["ort-int8-qdq", "ort-u8s8-qdq-pt-ent-pre"])
def test_building_never_writes_beside_the_source(source: Path, tmp_path: Path, case_id: str) -> None:
    quantize_ort.quantize(cases.get(case_id), source, _calibration(), tmp_path / "q.onnx")
    assert [p.name for p in source.parent.iterdir()] == ["resnet8.onnx"]
    assert (tmp_path / "q.onnx").stat().st_size > 0


def test_entropy_calibration_differs_from_minmax(source: Path, tmp_path: Path) -> None:
    """quantize_static's own Entropy path reproduces MinMax byte for byte; ours must not."""
    digests = {}
    for case_id in ("ort-u8s8-qdq-pt-mm-pre", "ort-u8s8-qdq-pt-ent-pre"):
        quantize_ort.quantize(cases.get(case_id), source, _calibration(), tmp_path / f"{case_id}.onnx")
        digests[case_id] = hashlib.sha256((tmp_path / f"{case_id}.onnx").read_bytes()).hexdigest()
    assert digests["ort-u8s8-qdq-pt-mm-pre"] != digests["ort-u8s8-qdq-pt-ent-pre"]
