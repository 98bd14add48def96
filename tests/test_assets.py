"""Finding, fetching and validating the inputs, on small synthetic files (no network)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ptq_helpers import assets
from ptq_helpers.contract import check_onnx
from ptq_helpers.errors import AssetError


def test_option_beats_environment_beats_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "opt").mkdir()
    (tmp_path / "env").mkdir()
    monkeypatch.setenv(assets.ENV_ASSETS, str(tmp_path / "env"))
    assert assets.resolve_assets(str(tmp_path / "opt"), tmp_path).root == tmp_path / "opt"
    assert assets.resolve_assets(None, tmp_path).source == f"${assets.ENV_ASSETS}"
    monkeypatch.delenv(assets.ENV_ASSETS)
    found = assets.resolve_assets(None, tmp_path / "cache")
    assert (found.root, found.source) == (tmp_path / "cache" / "assets", "user cache")


def test_missing_assets_folder_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match=r"^--assets-dir=.*/nope: folder .* does not exist; fix the path"):
        assets.resolve_assets(str(tmp_path / "nope"), tmp_path)


def test_offline_with_nothing_cached_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    def offline(*args: object, **kwargs: object) -> str:
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", offline)
    found = assets.resolve_assets(str(tmp_path), tmp_path / "cache")
    with pytest.raises(AssetError, match=r"pretrainedResnet\.h5: missing and could not be downloaded from "
                                         r"https://github\.com/mlcommons/tiny/raw/v1\.1/.*ConnectionError"):
        found.onnx_model()
    with pytest.raises(AssetError, match=r"cifar-10-python\.tar\.gz: missing and could not be downloaded from https://www\.cs\.toronto\.edu"):
        found.cifar_dir()


def test_download_checksum_failure_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    def bad_hash(*args: object, **kwargs: object) -> str:
        raise ValueError("MD5 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", bad_hash)
    with pytest.raises(AssetError, match=r"downloaded file fails its checksum"):
        assets.resolve_assets(str(tmp_path), tmp_path / "c").cifar_dir()


def test_found_files_are_used_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: pytest.fail("must not download"))
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"")
    (tmp_path / "resnet8.onnx").write_bytes(b"")
    found = assets.resolve_assets(str(tmp_path), tmp_path / "cache")
    assert found.cifar_dir() == tmp_path / "cifar-10-batches-py"
    assert found.onnx_model() == tmp_path / "resnet8.onnx"


def _model(path: Path, in_shape: list, out_shape: list) -> Path:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)
    y = helper.make_tensor_value_info("dense", TensorProto.FLOAT, out_shape)
    w = helper.make_tensor("w", TensorProto.FLOAT, [int(np.prod(in_shape[1:])), out_shape[1]],
                           np.zeros(int(np.prod(in_shape[1:])) * out_shape[1], np.float32))
    flat = helper.make_node("Flatten", ["input"], ["f"])
    mm = helper.make_node("MatMul", ["f", "w"], ["dense"])
    graph = helper.make_graph([flat, mm], "g", [x], [y], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    return path


def test_contract_accepts_nhwc_softmax_model(tmp_path: Path) -> None:
    assert check_onnx(_model(tmp_path / "m.onnx", ["N", 32, 32, 3], ["N", 10])) == "input"


@pytest.mark.parametrize(
    ("in_shape", "out_shape", "message"),
    [(["N", 3, 32, 32], ["N", 10], r"expected \(N, 32, 32, 3\) NHWC"),
     (["N", 32, 32, 3], ["N", 100], r"expected \(N, 10\) class probabilities")],
    ids=["nchw-input", "100-outputs"],
)
def test_contract_rejects_wrong_layouts(tmp_path: Path, in_shape: list, out_shape: list, message: str) -> None:
    with pytest.raises(AssetError, match=message):
        check_onnx(_model(tmp_path / "m.onnx", in_shape, out_shape))


def test_non_onnx_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "resnet8.onnx").write_text("not a model")
    with pytest.raises(AssetError, match=r"resnet8\.onnx: not a valid ONNX model"):
        check_onnx(tmp_path / "resnet8.onnx")


def _tarball(path: Path, names: tuple[str, ...]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
    return path


def test_downloaded_tarball_is_extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    archive = _tarball(tmp_path / "c.tar.gz", ("cifar-10-batches-py/test_batch", "other/readme"))
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: str(archive))
    folder = assets.resolve_assets(str(tmp_path), tmp_path / "cache").cifar_dir()
    assert folder == tmp_path / "cache" / "assets" / "cifar-10-batches-py"
    assert (folder / "test_batch").read_bytes() == b"data"
    assert not (tmp_path / "cache" / "assets" / "other").exists()


def test_tarball_with_path_traversal_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    archive = _tarball(tmp_path / "c.tar.gz", ("cifar-10-batches-py/test_batch",
                                              "cifar-10-batches-py/../../escaped"))
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: str(archive))
    with pytest.raises(AssetError, match=r"c\.tar\.gz: refused to extract .*outside the destination"):
        assets.resolve_assets(str(tmp_path), tmp_path / "cache").cifar_dir()
    assert not list(tmp_path.rglob("escaped"))
