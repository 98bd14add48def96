"""Read CIFAR-10 from the official python layout, safely, and verify it by content hash."""
from __future__ import annotations

import io
import pickle
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptq_helpers.core.errors import AssetError
from ptq_helpers.core.artifacts import cache_key, get_or_build, source_sha256
from ptq_helpers.core.fileio import sha256_bytes, sha256_file

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
ROWS_PER_FILE = 10_000
# An official batch is 30.7-31.1 MB (10,000 x 3,072 pixel bytes plus labels, names and pickle framing); one
# re-pickled by Python 3 with protocol 2 stores bytes as latin-1 text, up to twice that. Anything outside is
# refused before a byte is decoded, which bounds time and memory.
BATCH_BYTES = (ROWS_PER_FILE * 3072, 64_000_000)

# sha256 of the decoded arrays (NHWC uint8 images, uint8 labels): official files and mirrors agree.
CONTENT_SHA256 = {
    "test": (
        "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
        "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5",
    ),
    "train": (
        "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
        "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253",
    ),
}

# Only what numpy needs to rebuild an array; a pickle asking for anything else is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class _Refused(pickle.UnpicklingError):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise _Refused(f"global {module}.{name} is not allowed in a CIFAR-10 batch")


def safe_load_batch(path: Path) -> dict[str, object]:
    """Unpickle one batch file allowing only numpy array reconstruction; keys normalised to str."""
    fix = "replace it with one from the official tarball (https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz)"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AssetError(f"{path}: CIFAR-10 batch file is missing; restore the full cifar-10-batches-py folder "
                         f"(official tarball: https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz)") from None
    except OSError as exc:  # e.g. a symlink loop
        raise AssetError(f"{path}: cannot be opened ({exc.strerror}); {fix}") from None
    if not stat.S_ISREG(st.st_mode):
        raise AssetError(f"{path}: not a regular file (a folder, pipe or device); {fix}")
    if not BATCH_BYTES[0] <= st.st_size <= BATCH_BYTES[1]:
        raise AssetError(f"{path}: {st.st_size:,} bytes, but a CIFAR-10 batch has {BATCH_BYTES[0]:,} to "
                         f"{BATCH_BYTES[1]:,}; {fix}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(BATCH_BYTES[1] + 1)
    except OSError as exc:
        raise AssetError(f"{path}: cannot be read ({exc.strerror}); {fix}") from None
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as exc:
        raise AssetError(f"{path}: refused to load ({exc}); the file is not an official CIFAR-10 batch, "
                         f"replace it with one from the official tarball") from None
    except Exception as exc:
        raise AssetError(f"{path}: unreadable pickle ({type(exc).__name__}: {exc}); the file is truncated or "
                         f"corrupt, replace it with one from the official tarball") from None
    if not isinstance(obj, dict):
        raise AssetError(f"{path}: expected a dict with 'data' and 'labels', got {type(obj).__name__}; "
                         f"replace it with an official CIFAR-10 batch")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


@dataclass(frozen=True)
class Split:
    """One CIFAR-10 split as stored: raw NHWC uint8 pixels 0..255 and int64 labels, verified.

    The raw pixels are what the files hold, not what a model takes: every model is fed through its input contract
    (`ptq_helpers.data.model_inputs.ModelSplit`, the only object tests and builders get images from)."""

    name: str
    raw_pixels: np.ndarray  # (N, 32, 32, 3) uint8, NOT a model input
    labels: np.ndarray  # (N,) int64
    sha256: str  # of the pixel bytes

    def __len__(self) -> int:
        return len(self.labels)


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = safe_load_batch(path)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise AssetError(f"{path}: missing 'data' array or 'labels' list; replace it with an official CIFAR-10 batch")
    if data.dtype != np.uint8 or data.shape != (ROWS_PER_FILE, 3072):
        raise AssetError(f"{path}: 'data' is {data.dtype} {data.shape}, expected uint8 ({ROWS_PER_FILE}, 3072); "
                         f"replace it with an official CIFAR-10 batch")
    if not isinstance(labels, (list, np.ndarray)) or len(labels) != ROWS_PER_FILE:
        size = len(labels) if isinstance(labels, (list, tuple, np.ndarray, dict)) else "-"
        raise AssetError(f"{path}: 'labels' is a {type(labels).__name__} of {size} items, expected a list of "
                         f"{ROWS_PER_FILE} integers; replace it with an official CIFAR-10 batch")
    if isinstance(labels, list) and not all(type(v) is int for v in labels):
        raise AssetError(f"{path}: 'labels' holds non-integers; replace it with an official CIFAR-10 batch")
    lab = np.asarray(labels)
    if lab.shape != (ROWS_PER_FILE,) or not np.issubdtype(lab.dtype, np.integer):
        raise AssetError(f"{path}: 'labels' has shape {lab.shape} and dtype {lab.dtype}, expected {ROWS_PER_FILE} "
                         f"integers; replace it with an official CIFAR-10 batch")
    if lab.min() < 0 or lab.max() > 9:
        raise AssetError(f"{path}: labels outside 0..9 (min {lab.min()}, max {lab.max()}); "
                         f"replace it with an official CIFAR-10 batch")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), lab.astype(np.int64)


def load_split(cifar_dir: Path, name: str, verify: bool = True) -> Split:
    """Load 'train' (batches 1..5 in order) or 'test', check shapes, labels and content hashes."""
    files = TRAIN_FILES if name == "train" else TEST_FILES
    parts = [_decode(cifar_dir / f) for f in files]
    pixels = np.ascontiguousarray(np.concatenate([p for p, _ in parts]))
    labels = np.concatenate([lab for _, lab in parts])
    digest = sha256_bytes(pixels.data)
    if verify:
        want_px, want_lab = CONTENT_SHA256[name]
        got_lab = sha256_bytes(labels.astype(np.uint8).tobytes())
        if digest != want_px or got_lab != want_lab:
            which = "pixels" if digest != want_px else "labels"
            raise AssetError(
                f"{cifar_dir}: the {name} split's {which} do not match the official CIFAR-10 content hash "
                f"(got {digest if which == 'pixels' else got_lab}); the files were altered, replace "
                f"{', '.join(files)} from the official tarball"
            )
    return Split(name, pixels, labels, digest)


def load_split_cached(cifar_dir: Path, name: str, cache: Path, *, run_id: str) -> Split:
    """load_split, decoded once: the verified arrays are kept as one uncompressed .npz under `cache`, keyed by the
    sha256 of the batch files (a changed or replaced batch is decoded and verified again; a damaged .npz, caught by
    its manifest, is rebuilt)."""
    files = TRAIN_FILES if name == "train" else TEST_FILES
    key = cache_key({"split": name, "files": [sha256_file(cifar_dir / f) for f in files], "layout": "nhwc-uint8",
                     "code": source_sha256(sys.modules[__name__])})  # the decoder and its checks shape the arrays
    folder = cache / f"cifar-{name}-{key[:16]}"

    def decode(tmp: Path) -> None:
        split = load_split(cifar_dir, name)
        with open(tmp, "wb") as fh:
            np.savez(fh, pixels=split.raw_pixels, labels=split.labels, sha256=np.array(split.sha256))

    stored = get_or_build(folder, "split.npz", decode, run_id=run_id)
    with np.load(stored.path) as data:
        return Split(name, data["pixels"], data["labels"], str(data["sha256"]))
