"""The .h5 -> ONNX conversion path (used when resnet8.onnx is not in the assets folder)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.backends import evaluate
from ptq_helpers.matrix import cases
from ptq_helpers.data.assets import Assets, convert_h5
from ptq_helpers.data.contract import check_onnx

pytestmark = [
    pytest.mark.real,
    pytest.mark.convert,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("tensorflow", "tf2onnx")),
        reason="needs tensorflow-cpu and tf2onnx: pip install -e '.[convert]'",
    ),
]


def test_converted_h5_predicts_like_the_fp32_onnx(ptq_store, test_split, tmp_path: Path) -> None:
    assets: Assets = ptq_store.settings.assets
    converted = convert_h5(assets.h5_model(), tmp_path / "resnet8.onnx")
    assert check_onnx(converted)["name"] == "input"
    probs = evaluate.predict(cases.get("ort-fp32"), converted, test_split.images(), ptq_store.settings.threads)
    reference = ptq_store.result(cases.get("ort-fp32"))
    assert float(np.abs(probs - reference.probs).max()) <= 1e-4
    differ = int((probs.argmax(1) != reference.predictions).sum())
    assert differ == 0, f"converted .h5 disagrees with {reference.artifact.path.name} on {differ} images"


def test_truncated_h5_fails_conversion_with_a_clear_message(ptq_store, tmp_path: Path) -> None:
    from ptq_helpers.core.errors import AssetError

    broken = tmp_path / "pretrainedResnet.h5"
    broken.write_bytes(ptq_store.settings.assets.h5_model().read_bytes()[:50_000])  # valid signature, cut short
    with pytest.raises(AssetError,
                       match=r"pretrainedResnet\.h5: tf2onnx conversion failed \(exit 1: OSError: Unable to .*"
                                         r"truncated file.*\); check the file is the MLPerf Tiny pretrainedResnet\.h5"):
        convert_h5(broken, tmp_path / "out" / "resnet8.onnx")
    assert not (tmp_path / "out" / "resnet8.onnx").exists()
