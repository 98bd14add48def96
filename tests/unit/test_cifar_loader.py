"""CIFAR-10 reading on small synthetic batches (ROWS images per file instead of 10,000: the loader's checks are
written against cifar.ROWS_PER_FILE): both key styles, validation and content hashes. The real, full-size files
are read by tests/selftest/test_cifar_loader.py and by every gate run."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.data import cifar
from ptq_helpers.core.errors import AssetError
from tests.fakes import cifar_batch


ROWS = 200


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cifar, "ROWS_PER_FILE", ROWS)
    monkeypatch.setattr(cifar, "BATCH_BYTES", (ROWS * 3072, 64_000_000))


def _batch(seed: int, rows: int = ROWS) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (rows, 3072), dtype=np.uint8), rng.integers(0, 10, rows).tolist()


@pytest.fixture(scope="module")
def _official_style_batch(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("batch") / "test_batch"
    cifar_batch(path, *_batch(0))
    return path.read_bytes()


@pytest.fixture
def test_dir(tmp_path: Path, _official_style_batch: bytes) -> Path:
    (tmp_path / "test_batch").write_bytes(_official_style_batch)
    return tmp_path


@pytest.mark.parametrize("str_keys", [False, True], ids=["bytes-keys", "str-keys"])
def test_reads_both_key_styles_as_uint8_nhwc(tmp_path: Path, str_keys: bool) -> None:
    data, labels = _batch(1)
    # the official files (bytes keys) are protocol 2; a str-keyed file comes from a Python 3 writer
    cifar_batch(tmp_path / "test_batch", data, labels, str_keys=str_keys, protocol=4 if str_keys else 2)
    split = cifar.load_split(tmp_path, "test", verify=False)
    images = split.raw_pixels
    assert images.dtype == np.uint8 and images.shape == (ROWS, 32, 32, 3)
    # pixel (row 0, col 1) of image 5: red is data[5, 1], green data[5, 1025], blue data[5, 2049]
    assert images[5, 0, 1].tolist() == [data[5, 1], data[5, 1025], data[5, 2049]]
    assert split.labels.tolist() == labels and split.labels.dtype == np.int64


def test_content_hash_mismatch_names_the_folder_and_the_fix(test_dir: Path) -> None:
    with pytest.raises(AssetError, match=r"test split's pixels do not match .* replace test_batch"):
        cifar.load_split(test_dir, "test")


def test_missing_batch_file(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match=r"test_batch: CIFAR-10 batch file is missing"):
        cifar.load_split(tmp_path, "test")


def test_truncated_batch_is_refused_by_its_size(test_dir: Path) -> None:
    raw = (test_dir / "test_batch").read_bytes()
    (test_dir / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(AssetError, match=rf"test_batch: [\d,]+ bytes, but a CIFAR-10 batch has {ROWS * 3072:,} to "):
        cifar.load_split(test_dir, "test", verify=False)


def test_corrupt_batch_of_the_right_size(test_dir: Path) -> None:
    raw = bytearray((test_dir / "test_batch").read_bytes())
    raw[40:60] = b"\xff" * 20
    (test_dir / "test_batch").write_bytes(bytes(raw))
    with pytest.raises(AssetError, match=r"test_batch: unreadable pickle .* truncated or corrupt"):
        cifar.load_split(test_dir, "test", verify=False)


def _hostile(path: Path, kind: str) -> None:
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":  # reading it would block forever
        os.mkfifo(path)
    elif kind == "huge":  # sparse: 8 GB on paper, nothing on disk
        with open(path, "wb") as fh:
            fh.truncate(8 << 30)
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize(("kind", "message"), [
    ("folder", "not a regular file"), ("fifo", "not a regular file"), ("device", "not a regular file"),
    ("huge", "8,589,934,592 bytes, but a CIFAR-10 batch has"), ("loop", "cannot be opened"),
])
def test_hostile_batch_files_end_in_one_clear_error_at_once(tmp_path: Path, kind: str, message: str) -> None:
    _hostile(tmp_path / "test_batch", kind)
    with pytest.raises(AssetError, match=f"test_batch: {message}.*official tarball") as info:
        cifar.load_split(tmp_path, "test", verify=False)
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)


@pytest.mark.parametrize(
    ("data", "labels", "message"),
    [
        (np.zeros((ROWS, 3071), np.uint8), [0] * ROWS, rf"'data' is uint8 \({ROWS}, 3071\)"),
        (np.zeros((ROWS, 3072), np.float16), [0] * ROWS, r"'data' is float16"),
        (np.zeros((ROWS, 3072), np.uint8), [0] * (ROWS - 1), rf"'labels' is a list of {ROWS - 1} items"),
        (np.zeros((ROWS, 3072), np.uint8), {"a": 1}, r"'labels' is a dict of 1 items"),
        (np.zeros((ROWS, 3072), np.uint8), ["x"] * ROWS, r"'labels' holds non-integers"),
        (np.zeros((ROWS, 3072), np.uint8), [10] * ROWS, r"labels outside 0\.\.9"),
    ],
    ids=["short-rows", "float-pixels", "few-labels", "labels-dict", "labels-text", "label-10"],
)
def test_malformed_batches_are_refused(tmp_path: Path, data: np.ndarray, labels: list[int], message: str) -> None:
    cifar_batch(tmp_path / "test_batch", data, labels, protocol=4)
    with pytest.raises(AssetError, match=message):
        cifar.load_split(tmp_path, "test", verify=False)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump({b"data": _Exploit(marker), b"labels": []}, fh, protocol=2)
        fh.truncate(cifar.BATCH_BYTES[0])  # of a plausible size, so the unpickler itself must refuse it
    with pytest.raises(AssetError, match=r"refused to load \(global (posix|os|nt)\.system is not allowed"):
        cifar.safe_load_batch(tmp_path / "test_batch")
    assert not marker.exists()
