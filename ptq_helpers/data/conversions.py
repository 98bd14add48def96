"""Conversions of the fp32 model between formats, each in a child process (TensorFlow and torch stay out of the
test process) and cached by content: a Keras .h5 to ONNX (tf2onnx), a torch.export .pt2 to ONNX (dynamo, with its
fp32 agreement on the test images)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from importlib.util import find_spec
from pathlib import Path

from ptq_helpers.core.errors import AssetError
from ptq_helpers.core.fileio import atomic_path, atomic_write_bytes, lock
from ptq_helpers.data.input_contract import ContractOptions

H5_SHA256 = "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

_run = subprocess.run  # the converters' child processes (tests replace this, not subprocess.run itself)


def conversion_key(h5: Path, module: str = "ptq_helpers.data.convert",
                   libraries: tuple[str, ...] = ("tensorflow", "tensorflow-cpu", "tf2onnx", "onnx"),
                   contract: ContractOptions | None = None) -> str:
    """What a converted .onnx is a function of: the source file's bytes, the converter's code and the converting
    libraries' versions (read from their metadata: nothing is imported), and the contract its agreement check
    feeds (a .pt2's)."""
    from importlib import metadata

    from ptq_helpers.core.artifacts import cache_key
    from ptq_helpers.core.fileio import sha256_file

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    origin = getattr(find_spec(module), "origin", None)
    parts = {"h5": sha256_file(h5), "code": sha256_file(Path(origin)) if origin else None,
             "versions": {n: version(n) for n in libraries}}
    if contract is not None:
        parts.update(source=module, contract=asdict(contract))
    return cache_key(parts)


def agreement_of(onnx_path: Path) -> dict[str, object] | None:
    """The fp32 agreement a conversion measured (convert_pt2), or None for a file that was not converted so."""
    try:
        return json.loads(onnx_path.with_name(onnx_path.name + ".agreement.json").read_text())
    except (OSError, ValueError):
        return None


def convert_pt2(pt2: Path, dest: Path, cifar: Path, contract: ContractOptions) -> Path:
    """Export a torch.export program to ONNX (dynamo) in a child process, checked for top-1 agreement on the
    10,000 test images in the model's contract (convert_torch.py); cached by content, with its agreement."""
    facts = dest.with_name(dest.name + ".agreement.json")
    with lock(dest):
        if dest.exists() and agreement_of(dest) is not None:
            return dest
        with atomic_path(dest) as tmp:
            spec = tmp.with_name(tmp.name + ".contract.json")
            spec.write_text(json.dumps(asdict(contract)))
            try:
                proc = _run([sys.executable, "-m", "ptq_helpers.data.convert_torch", str(pt2), str(tmp), str(cifar),
                             str(spec)], capture_output=True, text=True)
            finally:
                spec.unlink(missing_ok=True)
            measured = tmp.with_name(tmp.name + ".agreement.json")
            if proc.returncode != 0 or not measured.is_file():
                measured.unlink(missing_ok=True)
                last = (proc.stderr.strip().splitlines() or ["no error output"])[-1]
                raise AssetError(f"{pt2}: exporting it to ONNX for ONNX Runtime and OpenVINO failed ({last}); "
                                 f"check that it is a torch.export program (torch.export.save) of the fp32 model "
                                 f"with one image input and a dynamic batch, saved by torch "
                                 f"{_version('torch') or '(not installed)'}")
            atomic_write_bytes(facts, measured.read_bytes())
            measured.unlink()
        return dest


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def convert_h5(h5: Path, dest: Path, user: bool = False) -> Path:
    """Convert the Keras .h5 to ONNX with tf2onnx in a subprocess (keeps TensorFlow out of this process)."""
    with lock(dest):
        if dest.exists():
            return dest
        with open(h5, "rb") as fh:
            if fh.read(8) != HDF5_SIGNATURE:
                raise AssetError(f"{h5}: not an HDF5 file; save the Keras model with model.save('model.h5')" if user
                                 else f"{h5}: not an HDF5 file (corrupt or wrong download); delete it so the suite "
                                 f"downloads it again (sha256 {H5_SHA256}), or replace it with the MLPerf Tiny "
                                 f"pretrainedResnet.h5")
        missing = [m for m in ("tensorflow", "tf2onnx") if find_spec(m) is None]
        if missing:
            raise AssetError(
                f"{dest.name}: not found, and converting {h5} needs {' and '.join(missing)}; "
                f"install the extra: pip install -e '.[convert]' "
                + ("(or pass your model as .onnx)" if user else "(or put resnet8.onnx in the assets folder)")
            )
        with atomic_path(dest) as tmp:
            proc = _run(
                [sys.executable, "-m", "ptq_helpers.data.convert", str(h5), str(tmp)],
                capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no error output"])[-1]
                raise AssetError(
                    f"{h5}: tf2onnx conversion failed (exit {proc.returncode}: {last}); check that "
                    f"tf.keras.models.load_model loads it and that it takes (None, 32, 32, 3) images" if user else
                    f"{h5}: tf2onnx conversion failed (exit {proc.returncode}: {last}); check the file is the "
                    f"MLPerf Tiny pretrainedResnet.h5 (sha256 {H5_SHA256}), or delete it to download it again"
                )
        return dest
