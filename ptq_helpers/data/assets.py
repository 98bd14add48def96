"""Find the assets folder, fetch what is missing from the official sources, convert .h5 -> ONNX."""
from __future__ import annotations

import getpass
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ptq_helpers.core.errors import AssetError
from ptq_helpers.core.fileio import lock
from ptq_helpers.data import pt2_guard
from ptq_helpers.data.conversions import H5_SHA256, conversion_key, convert_h5, convert_pt2
from ptq_helpers.data.input_contract import ContractOptions

ENV_ASSETS = "RESNET8_PTQ_ASSETS"
ENV_CACHE = "RESNET8_PTQ_CACHE"

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")

H5_PATH = "mlperf-tiny/pretrainedResnet.h5"
H5_URL = "https://github.com/mlcommons/tiny/raw/v1.1/benchmark/training/image_classification/trained_models/pretrainedResnet.h5"

TFLITE_INT8_PATH = "mlperf-tiny/pretrainedResnet_quant.tflite"
TFLITE_INT8_URL = "https://github.com/mlcommons/tiny/raw/v1.1/benchmark/training/image_classification/trained_models/pretrainedResnet_quant.tflite"
TFLITE_INT8_SHA256 = "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415"

ONNX_PATH = "resnet8.onnx"


def default_cache_dir() -> Path:
    """The per-user cache folder (e.g. ~/.cache/resnet8-ptq)."""
    import pooch

    return Path(pooch.os_cache("resnet8-ptq"))


def _resolved(value: str, source: str) -> Path:
    """The absolute path of a setting, or one AssetError naming the setting (e.g. a symlink loop)."""
    try:
        return Path(value).expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise AssetError(f"{source}={value}: the path cannot be resolved ({exc}); fix the path or its "
                         f"symbolic links") from None


def resolve_cache_dir(option: str | None) -> Path:
    """--ptq-cache-dir, then $RESNET8_PTQ_CACHE, then the user cache folder."""
    if option:
        return _resolved(option, "--ptq-cache-dir")
    if os.environ.get(ENV_CACHE):
        return _resolved(os.environ[ENV_CACHE], f"${ENV_CACHE}")
    return default_cache_dir()


def private(folder: Path) -> str | None:
    """Why a shared-temp folder cannot be trusted as our cache (someone else could have planted predictions in
    it), or None when it is ours: owned by this user and writable by nobody else."""
    st = folder.lstat()
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if st.st_uid != os.getuid():
        return f"it belongs to user id {st.st_uid}, not to you ({os.getuid()}); anyone could have filled it"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write to it (mode {stat.filemode(st.st_mode)}); chmod go-w {folder} or remove it"
    return None


def writable_cache(path: Path) -> tuple[Path, str | None]:
    """path if this process can write there, else a per-user temp folder and a note saying why."""
    def usable(folder: Path) -> str | None:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                return None
        except OSError as exc:
            return exc.strerror or type(exc).__name__

    problem = usable(path)
    if problem is None:
        return path, None
    fallback = Path(tempfile.gettempdir()) / f"resnet8-ptq-{getpass.getuser()}"
    # Refuse before touching: a folder that is already there is checked to be ours before anything (even a
    # probe file) is created in it; one we create ourselves is made private (0700) and then checked.
    second = (private(fallback) if fallback.exists() or fallback.is_symlink() else None) or usable(fallback) \
        or private(fallback)
    if second is not None:
        raise AssetError(f"cache folder {path} is not writable ({problem}) and neither is the fallback {fallback} "
                         f"({second}); point --ptq-cache-dir or ${ENV_CACHE} at a writable folder")
    return fallback, f"cache folder {path} is not writable ({problem}); using {fallback} instead"


@dataclass(frozen=True)
class Assets:
    """Where inputs are read from (root, maybe read-only) and where missing ones are fetched to."""

    root: Path
    source: str  # which setting chose root, for messages and the report header
    cache: Path  # writable: downloads, conversions
    model: Path | None = None  # --ptq-model: the user's own fp32 model (.onnx, .h5 or .pt2) instead of MLPerf's
    contract: ContractOptions = ContractOptions()  # --ptq-input-*: how the model is fed (a .pt2's check uses it)

    @property
    def pt2(self) -> Path | None:
        """--ptq-model's torch.export program, when the model was given as one."""
        return self.model if self.model is not None and self.model.suffix == ".pt2" else None

    @property
    def fetch_dir(self) -> Path:
        return self.cache / "assets"

    def _find(self, relative: str) -> Path | None:
        for base in (self.root, self.fetch_dir):
            if (base / relative).exists():
                return base / relative
        return None

    def cifar_dir(self) -> Path:
        """The folder holding the CIFAR-10 python batches, downloaded if absent."""
        for base in (self.root, self.fetch_dir):
            folder = base / CIFAR_DIR
            if folder.is_dir() and any((folder / f).exists() for f in CIFAR_FILES):
                return folder
        return fetch_cifar(self.fetch_dir, self)

    def h5_model(self) -> Path:
        """The MLPerf Tiny Keras model (or --ptq-model's .h5), downloaded if absent."""
        if self.model is not None:
            if self.model.suffix != ".h5":
                raise AssetError(f"--ptq-model {self.model}: not a Keras .h5 (builds that start from one take "
                                 f"the torch.export program of other models: Inputs.torch_program)")
            return self.model
        found = self._find(H5_PATH)
        if found is not None:
            return found
        return fetch_file(H5_URL, f"sha256:{H5_SHA256}", self.fetch_dir / H5_PATH, self)

    def tflite_int8_model(self) -> Path:
        """MLPerf Tiny's own int8 TFLite model (a reference: it was calibrated on test images)."""
        found = self._find(TFLITE_INT8_PATH)
        if found is not None:
            return found
        return fetch_file(TFLITE_INT8_URL, f"sha256:{TFLITE_INT8_SHA256}", self.fetch_dir / TFLITE_INT8_PATH, self)

    def onnx_model(self) -> Path:
        """resnet8.onnx from the assets (or --ptq-model's), else converted from the .h5 (cached by content)."""
        if self.model is not None:
            if self.model.suffix == ".onnx":
                return self.model
            if self.model.suffix == ".pt2":
                try:  # before any process lets torch open it
                    pt2_guard.check(self.model)
                except pt2_guard.UnsafeArchive as exc:
                    raise AssetError(str(exc).removeprefix(f"{self.model}: ")) from None  # the caller names it
                key = conversion_key(self.model, "ptq_helpers.data.convert_torch", ("torch", "onnxscript", "onnx"),
                                     self.contract)
                return convert_pt2(self.model, self.fetch_dir / f"user-{key[:16]}.onnx", self.cifar_dir(),
                                   self.contract)
            return convert_h5(self.model, self.fetch_dir / f"user-{conversion_key(self.model)[:16]}.onnx",
                              user=True)
        found = self._find(ONNX_PATH)
        if found is not None:
            return found
        h5 = self.h5_model()
        return convert_h5(h5, self.fetch_dir / ONNX_PATH)

    def hint(self) -> str:
        return (
            f"assets folder {self.root} (from {self.source}); put the files there ({CIFAR_DIR}/, {H5_PATH}, "
            f"{ONNX_PATH}), point --assets-dir or ${ENV_ASSETS} at such a folder, or go online so the "
            f"suite can download them into {self.fetch_dir}"
        )


def resolve_assets(option: str | None, cache: Path) -> Assets:
    """--assets-dir, then $RESNET8_PTQ_ASSETS, then <cache>/assets."""
    for value, source in ((option, "--assets-dir"), (os.environ.get(ENV_ASSETS), f"${ENV_ASSETS}")):
        if value:
            root = _resolved(value, source)
            if not root.is_dir():
                raise AssetError(
                    f"{source}={value}: folder {root} does not exist; fix the path, or unset it to use "
                    f"(and download into) {cache / 'assets'}"
                )
            return Assets(root, source, cache)
    return Assets(cache / "assets", "user cache", cache)


def _retrieve(url: str, known_hash: str, dest: Path, assets: Assets) -> Path:
    import pooch

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        return Path(pooch.retrieve(url, known_hash=known_hash, fname=dest.name, path=dest.parent, progressbar=False))
    except ValueError as exc:  # pooch's hash mismatch
        raise AssetError(f"{url}: downloaded file fails its checksum ({exc}); retry, or {assets.hint()}") from None
    except Exception as exc:  # requests' connection errors and friends
        raise AssetError(
            f"{dest}: missing and could not be downloaded from {url} ({type(exc).__name__}: {exc}); "
            f"{assets.hint()}"
        ) from None


def fetch_file(url: str, known_hash: str, dest: Path, assets: Assets) -> Path:
    """Download one file with its checksum checked by pooch."""
    with lock(dest):
        if dest.exists():
            return dest
        return _retrieve(url, known_hash, dest, assets)


def fetch_cifar(dest_root: Path, assets: Assets) -> Path:
    """Download the official CIFAR-10 tarball (md5-checked) and extract it safely."""
    target = dest_root / CIFAR_DIR
    with lock(target):
        if target.is_dir():
            return target
        archive = _retrieve(CIFAR_URL, f"md5:{CIFAR_MD5}", dest_root / "cifar-10-python.tar.gz", assets)
        staging = dest_root / f".extract-{os.getpid()}"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = [m for m in tar.getmembers() if m.name.startswith(f"{CIFAR_DIR}/") and m.isfile()]
                tar.extractall(staging, members=members, filter="data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise AssetError(f"{archive}: refused to extract ({exc}); this is not the official CIFAR-10 "
                             f"tarball, delete it and retry, or {assets.hint()}") from None
        os.replace(staging / CIFAR_DIR, target)
        staging.rmdir()
        archive.unlink()
        return target
