"""The Python environment the LiteRT builds of a PyTorch (.pt2) source run in, prepared once and cached:

    python -m ptq_helpers.backends.litert.torch_setup [--cache DIR]

litert-torch (PyPI) converts a torch.export program to a .tflite, and its quantizer (ai-edge-quantizer) makes the
full-integer file. It cannot share the suite's environment: it pins typing-extensions 4.12.2, which ExecuTorch's
cattrs (>= 4.14) refuses, and it brings jax and transformers. So it gets a virtual environment of its own, with
torch, torchao, numpy and ai-edge-litert pinned to this environment's exact versions (the exported program is
loaded by the same torch that wrote it; the .tflite is run by the same LiteRT) and the converter chain pinned
below. It lives in <cache>/litert-torch/<key>/venv/, the key being those pins and the Python version (computable
offline, so a prepared environment is found without a network); it is built in place under a lock and counts as
prepared only once its manifest (written last) is there, so concurrent runs prepare it once. The converter runs
in it as a child process (ptq_helpers.backends.litert.pt2); a gate run never prepares it by itself (a .pt2 source's
LiteRT items are skipped naming this command until it is there).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from ptq_helpers.core.errors import PTQError

LAYOUT = 1
# The converter chain (what shapes the .tflite files); their versions are part of the key.
PINS = {"litert-torch": "0.10.0", "litert-converter": "0.5.0", "ai-edge-quantizer": "0.10.0"}
# Pinned to this environment's versions: the program's torch, the runtime that runs the files.
HOST_PINNED = ("torch", "torchao", "numpy", "ai-edge-litert")
HOW_TO = "python -m ptq_helpers.backends.litert.torch_setup"
MANIFEST = "manifest.json"


class LiteRTTorchSetupError(PTQError):
    """The litert-torch environment is not prepared and could not be prepared; says how to prepare it."""


def pins() -> dict[str, str]:
    """Every pinned distribution and its version: the converter chain and this environment's shared libraries."""
    found = dict(PINS)
    for name in HOST_PINNED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise LiteRTTorchSetupError(f"the litert-torch environment pins {name} to this environment's version, "
                                        f"and {name} is not installed here") from None
    return found


def key() -> str:
    """What shapes the environment: the pins, the Python version and this layout (no network needed)."""
    text = json.dumps({"layout": LAYOUT, "pins": pins(), "python": f"{sys.version_info[0]}.{sys.version_info[1]}"},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache() -> Path:
    from ptq_helpers.data.assets import resolve_cache_dir

    return resolve_cache_dir(None)


def home(cache: Path) -> Path:
    return cache / "litert-torch" / key()


def python_of(folder: Path) -> Path:
    return folder / "venv" / "bin" / "python"


def _run(cmd: list[str], what: str, note) -> str:  # noqa: ANN001 - note(str) shows progress
    if what:
        note(f"litert-torch environment: {what} ...")
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise LiteRTTorchSetupError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{tail}")
    return proc.stdout


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _build(folder: Path, note) -> dict[str, object]:  # noqa: ANN001
    """A fresh venv in folder/venv with every pin installed (pip resolves the rest of litert-torch's needs)."""
    started = time.perf_counter()
    if folder.exists():  # a half-prepared one (no manifest): start again
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _run([sys.executable, "-m", "venv", str(folder / "venv")], "python -m venv", note)
    python = str(python_of(folder))
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
          *(f"{n}=={v}" for n, v in pins().items())],
         "pip install " + " ".join(f"{n}=={v}" for n, v in pins().items()), note)
    frozen = _run([python, "-m", "pip", "freeze", "--disable-pip-version-check"], "", note).split()
    return {"key": key(), "pins": pins(), "python": sys.version.split()[0], "installed": frozen,
            "seconds": round(time.perf_counter() - started, 1), "bytes": _size(folder)}


def environment(cache: Path, prepare: bool = True, note=None) -> Path:  # noqa: ANN001 - note(str)
    """The Python executable of the prepared environment; prepares it (once, under a lock) when allowed, else
    says how to."""
    from ptq_helpers.core.fileio import atomic_write_bytes, lock
    from ptq_helpers.core.progress import say

    note = note or say
    folder = home(cache)
    if (folder / MANIFEST).is_file():
        return python_of(folder)
    if not prepare:
        raise LiteRTTorchSetupError(f"the litert-torch environment (the LiteRT builds of a .pt2 source) is not "
                                    f"prepared in {folder}; prepare it once with: {HOW_TO}")
    with lock(folder / MANIFEST, timeout=3600):
        if (folder / MANIFEST).is_file():
            return python_of(folder)
        note(f"preparing the litert-torch environment in {folder} (once per pinned versions: a few minutes and "
             "~6.6 GB, most of it torch's CUDA libraries from PyPI) ...")
        try:
            manifest = _build(folder, note)
        except (LiteRTTorchSetupError, OSError) as exc:
            raise LiteRTTorchSetupError(f"the litert-torch environment is not in {folder} and preparing it failed "
                                        f"(it needs PyPI once): {exc}\nprepare it with: {HOW_TO}") from None
        atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1).encode())
        note(f"litert-torch environment ready in {manifest['seconds']:.0f} s, {manifest['bytes'] / 1e9:.1f} GB")
    return python_of(folder)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=HOW_TO, description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, help="the suite's cache folder (default: $RESNET8_PTQ_CACHE or its default)")
    args = p.parse_args(argv)
    try:
        python = environment(args.cache or default_cache(), note=lambda line: print(line, flush=True))
    except (LiteRTTorchSetupError, PTQError) as exc:
        print(f"litert-torch setup: {exc}", file=sys.stderr)
        return 1
    print(f"litert-torch environment ready: {python}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    sys.exit(main())
