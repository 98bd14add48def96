"""Finding, fetching and validating the inputs, on small synthetic files (no network)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import onnx
import onnx.numpy_helper
import pytest

from ptq_helpers.data import assets, conversions
from ptq_helpers.data import contract
from ptq_helpers.data.contract import check_onnx
from ptq_helpers.core.fileio import sha256_file
from ptq_helpers.core.errors import AssetError
from tests.fakes import tiny_onnx


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


@pytest.mark.parametrize(("in_shape", "name"), [(["N", 32, 32, 3], "input"), (["batch", 3, 32, 32], "x")],
                         ids=["nhwc-input", "nchw-x"])
def test_contract_accepts_one_image_input_of_either_layout_under_any_name(tmp_path: Path, in_shape: list,
                                                                         name: str) -> None:
    facts = check_onnx(tiny_onnx(tmp_path / "m.onnx", in_shape, ["N", 10], name))
    assert facts == {"name": name, "dims": [in_shape[0], *in_shape[1:]], "softmax": False}  # a MatMul out: logits


@pytest.mark.parametrize(
    ("in_shape", "out_shape", "message"),
    [(["N", 32, 32], ["N", 10], r"input 'input' has shape \(N, 32, 32\), expected \(N, 32, 32, 3\) NHWC or "
                                r"\(N, 3, 32, 32\) NCHW"),
     (["N", 32, 32, 3], ["N", 100], r"expected \(N, 10\) class scores")],
    ids=["3d-input", "100-outputs"],
)
def test_contract_rejects_what_is_not_a_cifar10_classifier(tmp_path: Path, in_shape: list, out_shape: list,
                                                          message: str) -> None:
    with pytest.raises(AssetError, match=message):
        check_onnx(tiny_onnx(tmp_path / "m.onnx", in_shape, out_shape))


def test_external_data_beside_the_model_is_part_of_it_and_outside_is_refused(tmp_path: Path) -> None:
    model = onnx.load(str(tiny_onnx(tmp_path / "src.onnx", ["N", 32, 32, 3], ["N", 10])))
    for t in model.graph.initializer:  # raw bytes: what onnx moves to external data
        t.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(t), t.name))
    onnx.save(model, str(tmp_path / "src.onnx"))
    onnx.save(model, str(tmp_path / "m.onnx"), save_as_external_data=True, location="m.onnx.data", size_threshold=0)
    before = contract.model_sha256(tmp_path / "m.onnx")
    assert check_onnx(tmp_path / "m.onnx")["name"] == "input"
    (tmp_path / "m.onnx.data").write_bytes((tmp_path / "m.onnx.data").read_bytes()[:-4] + b"\0\0\x80\x3f")
    assert contract.model_sha256(tmp_path / "m.onnx") != before  # a changed weights file is a different model
    (tmp_path / "sub").mkdir()
    onnx.save(onnx.load(str(tmp_path / "m.onnx")), str(tmp_path / "sub" / "m.onnx"), save_as_external_data=True,
              location="outside.data", size_threshold=0)
    (tmp_path / "sub" / "outside.data").rename(tmp_path / "outside.data")
    model = onnx.load(str(tmp_path / "sub" / "m.onnx"), load_external_data=False)
    for t in model.graph.initializer:  # onnx refuses to write '..' locations; a file from elsewhere may have them
        next(e for e in t.external_data if e.key == "location").value = "../outside.data"
    (tmp_path / "sub" / "m.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(AssetError, match=r"sub/m\.onnx: its weights point at .*outside\.data, outside the model's "
                                         r"folder .*; keep the external data files beside the \.onnx"):
        check_onnx(tmp_path / "sub" / "m.onnx")


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


def test_corrupt_h5_is_named_before_any_conversion(tmp_path: Path) -> None:
    (tmp_path / "mlperf-tiny").mkdir()
    (tmp_path / "mlperf-tiny" / "pretrainedResnet.h5").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(AssetError, match=r"pretrainedResnet\.h5: not an HDF5 file \(corrupt or wrong download\); "
                                         r"delete it"):
        assets.resolve_assets(str(tmp_path), tmp_path / "cache").onnx_model()


def test_conversion_writes_to_the_cache_never_to_the_assets_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The assets folder may be read-only (it is in CI): converted and downloaded files go to the cache."""
    import subprocess

    root = tmp_path / "assets"
    (root / "mlperf-tiny").mkdir(parents=True)
    (root / "mlperf-tiny" / "pretrainedResnet.h5").write_bytes(conversions.HDF5_SIGNATURE + b"rest")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))

    def fake_tf2onnx(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        Path(cmd[-1]).write_bytes(b"onnx")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(conversions, "find_spec", lambda name: object())  # this module's, not importlib's
    monkeypatch.setattr(conversions, "_run", fake_tf2onnx)
    made = assets.resolve_assets(str(root), tmp_path / "cache").onnx_model()
    assert made == tmp_path / "cache" / "assets" / "resnet8.onnx" and made.read_bytes() == b"onnx"
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_unwritable_cache_falls_back_and_says_so() -> None:
    cache, note = assets.writable_cache(Path("/proc/resnet8-ptq-cache"))  # not writable, even for root
    assert cache != Path("/proc/resnet8-ptq-cache") and cache.is_dir()
    assert note is not None and note.startswith("cache folder /proc/resnet8-ptq-cache is not writable")
    assert assets.writable_cache(cache) == (cache, None)


@pytest.mark.parametrize(("plant", "message"), [
    ("world-writable", "others may write to it (mode drwxrwxrwx); chmod go-w"),
    ("someone-elses", "it belongs to user id 65534, not to you"),
])
def test_a_planted_fallback_cache_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plant: str,
                                             message: str) -> None:
    """The per-user fallback sits in the shared temp folder: one made beforehand by another user (with forged
    predictions in it) must not be used, and nothing of ours is created in it first (not even a probe file)."""
    if plant == "someone-elses" and os.geteuid() != 0:
        pytest.skip("needs root to hand a folder to another user (run as root, as CI does)")
    monkeypatch.setattr(assets.tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / f"resnet8-ptq-{assets.getpass.getuser()}"
    planted.mkdir(mode=0o700)
    if plant == "world-writable":
        planted.chmod(0o777)
    else:
        os.chown(planted, 65534, 65534)
    (planted / "forged.npy").write_bytes(b"planted")
    os.utime(planted, (1_000_000_000, 1_000_000_000))
    with pytest.raises(AssetError, match=re.escape(f"neither is the fallback {planted} ({message}")):
        assets.writable_cache(Path("/proc/resnet8-ptq-cache"))
    assert planted.stat().st_mtime == 1_000_000_000, "a file was created (or removed) in the planted folder"
    assert sorted(p.name for p in planted.iterdir()) == ["forged.npy"]


def test_external_weights_are_part_of_the_model_identity(tmp_path: Path) -> None:
    """A model whose weights live in an external-data file is keyed by both files: changing only the weights
    file gives another key, and the size counts both."""
    from ptq_helpers.data.contract import model_files, model_sha256

    model = onnx.load(str(tiny_onnx(tmp_path / "inline.onnx", ["N", 32, 32, 3], ["N", 10])))
    for tensor in model.graph.initializer:  # raw bytes, which onnx moves to the external file
        tensor.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor), tensor.name))
    onnx.save(model, str(tmp_path / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.data", size_threshold=0)
    assert [p.name for p in model_files(tmp_path / "m.onnx")] == ["m.onnx", "m.data"]
    before = model_sha256(tmp_path / "m.onnx")
    data = bytearray((tmp_path / "m.data").read_bytes())
    data[0] ^= 1
    (tmp_path / "m.data").write_bytes(bytes(data))
    assert model_sha256(tmp_path / "m.onnx") != before
    assert model_sha256(tmp_path / "inline.onnx") == sha256_file(tmp_path / "inline.onnx")  # one file: its sha256


def test_a_symlink_loop_in_a_path_setting_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(AssetError, match=r"--ptq-cache-dir=.*/loop/cache: the path cannot be resolved \(Symlink loop"):
        assets.resolve_cache_dir(str(tmp_path / "loop" / "cache"))
    monkeypatch.setenv("RESNET8_PTQ_ASSETS", str(tmp_path / "loop"))
    with pytest.raises(AssetError, match=r"\$RESNET8_PTQ_ASSETS=.*/loop: the path cannot be resolved"):
        assets.resolve_assets(None, tmp_path / "cache")
