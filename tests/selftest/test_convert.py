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


def test_a_keras_lambda_is_refused_and_never_runs(tmp_path: Path) -> None:
    """A Lambda layer is Python bytecode in the .h5: Keras' safe mode (asked for explicitly) refuses it when the file is
    loaded, so its code never runs; the control loads it unsafely in a child and sees the marker."""
    import subprocess
    import sys

    from ptq_helpers.core.errors import AssetError

    marker, h5 = tmp_path / "marker", tmp_path / "lambda.h5"
    make = (f"import keras\nm = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Lambda(lambda x: "
            f"(__import__('pathlib').Path({str(marker)!r}).touch(), x)[1])])\nm.save({str(h5)!r})\n")
    assert subprocess.run([sys.executable, "-c", make], capture_output=True).returncode == 0
    marker.unlink(missing_ok=True)  # building the model called the lambda once
    unsafe = f"import keras\nkeras.models.load_model({str(h5)!r}, compile=False, safe_mode=False)\n"
    subprocess.run([sys.executable, "-c", unsafe], capture_output=True)
    assert marker.exists(), "control: loading the .h5 unsafely runs its Lambda"
    marker.unlink()
    with pytest.raises(AssetError, match=r"lambda\.h5: tf2onnx conversion failed \(exit 1: .*[Ll]ambda"):
        convert_h5(h5, tmp_path / "out.onnx", user=True)
    assert not marker.exists()
