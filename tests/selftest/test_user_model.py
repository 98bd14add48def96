"""--ptq-model: gate your own retrained ResNet8. The fp32 pin (8719/10000) is MLPerf's model's: a model with
other weights is reported as not the reference (and gated on its own fp32), never taken for it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.data.contract import REFERENCE_WEIGHTS_SHA256, weights_sha256
from ptq_helpers.core.fileio import sha256_file

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nudged(ptq_store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference ONNX with one weight scaled by 1.0001: as many right answers, not the same model."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(ptq_store.source))
    tensor = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(tensor).copy()
    values.flat[0] *= 1.0001
    tensor.CopyFrom(numpy_helper.from_array(values, tensor.name))
    path = tmp_path_factory.mktemp("user") / "mine.onnx"
    onnx.save(model, str(path))
    return path


def _pytest(*args: str, cache: Path, assets: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(RESNET8_PTQ_CACHE=str(cache), RESNET8_PTQ_ASSETS=str(assets))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_user_model_is_gated_on_its_own_fp32_and_said_not_to_be_the_reference(nudged: Path, ptq_session,
                                                                                   tmp_path: Path) -> None:
    assert weights_sha256(nudged) != REFERENCE_WEIGHTS_SHA256
    proc = _pytest("tests/gates/test_accuracy_gates.py", "-k", "ort-fp32 or reference", f"--ptq-model={nudged}",
                   f"--ptq-json={tmp_path / 'r.json'}", cache=tmp_path / "cache",
                   assets=ptq_session.settings.assets.root)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"resnet8-ptq: model {nudged} (--ptq-model): NOT the reference ResNet8" in proc.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["thresholds"]["fp32_correct"] is None and data["meta"]["source_sha256"] == sha256_file(nudged)
    assert data["gates"]["ort-fp32"] == {} and "3 passed" in proc.stdout


def test_a_nudged_model_in_the_assets_fails_the_reference_check(nudged: Path, ptq_session, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("cifar-10-batches-py", "mlperf-tiny"):
        (assets / name).symlink_to(ptq_session.settings.assets.root / name)
    (assets / "resnet8.onnx").write_bytes(nudged.read_bytes())
    proc = _pytest("tests/gates/test_accuracy_gates.py", "-k", "reference", cache=tmp_path / "cache", assets=assets)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "resnet8.onnx: not the reference ResNet8 (weights sha256 " in proc.stdout
    assert f"gate your own model deliberately with --ptq-model {assets / 'resnet8.onnx'}" in proc.stdout


def test_a_user_h5_is_converted_once_by_content_and_gated_on_its_own_fp32(ptq_session, tmp_path: Path) -> None:
    """--ptq-model mine.h5 end to end: converted with tf2onnx once (cached by the file's content, not its name),
    said not to be the reference (one weight nudged), gated on its own fp32; a second run with the same bytes
    under another name converts nothing."""
    pytest.importorskip("tf2onnx", reason="converting a .h5 needs the convert extra: pip install -e '.[convert]'")
    h5py = pytest.importorskip("h5py", reason="nudging a .h5 weight needs h5py (installed with tensorflow)")
    mine = tmp_path / "mine.h5"
    mine.write_bytes(ptq_session.settings.assets.h5_model().read_bytes())
    with h5py.File(mine, "r+") as f:
        gamma = f["model_weights/batch_normalization/batch_normalization/gamma:0"]
        gamma[0] = gamma[0] * 1.0001
    cache, assets = tmp_path / "cache", ptq_session.settings.assets.root
    args = ("tests/gates/test_accuracy_gates.py", "-k", "ort-fp32 or ort-int8-qdq")
    first = _pytest(*args, f"--ptq-model={mine}", f"--ptq-json={tmp_path / 'one.json'}", cache=cache, assets=assets)
    assert first.returncode == 0, first.stdout[-3000:]
    assert f"resnet8-ptq: model {mine} (--ptq-model): NOT the reference ResNet8" in first.stdout
    converted = sorted((cache / "assets").glob("user-*.onnx"))
    assert len(converted) == 1, converted
    stamp = converted[0].stat().st_mtime_ns
    data = json.loads((tmp_path / "one.json").read_text())
    assert data["meta"]["source_sha256"] == sha256_file(converted[0]) and data["thresholds"]["fp32_correct"] is None
    fp32 = next(m for m in data["models"] if m["id"] == "ort-fp32")
    assert data["gates"]["ort-int8-qdq"] == {} and 8_500 < fp32["correct"] < 9_000  # its own fp32, measured
    again = tmp_path / "renamed.h5"
    again.write_bytes(mine.read_bytes())
    second = _pytest(*args, f"--ptq-model={again}", cache=cache, assets=assets)
    assert second.returncode == 0, second.stdout[-3000:]
    assert sorted((cache / "assets").glob("user-*.onnx")) == converted and converted[0].stat().st_mtime_ns == stamp
    assert "built this run: nothing" in second.stdout
