"""Build-once, content-addressed artifacts on disk: safe across xdist workers and concurrent runs."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ptq_helpers.core.fileio import atomic_path, atomic_write_bytes, lock, sha256_file

MANIFEST = "manifest.json"


def cache_key(parts: dict[str, object]) -> str:
    """sha256 over a canonical JSON of everything that changes an artifact."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def source_sha256(*modules: object) -> str:
    """Hash of the code that builds an artifact, so a change to it invalidates the cache."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())  # type: ignore[attr-defined]
    return digest.hexdigest()


@dataclass(frozen=True)
class Stored:
    """One file in the cache and how this process got it."""

    path: Path
    sha256: str
    size: int
    built: bool  # True when this process produced it, False when reused


def _valid(folder: Path, filename: str, run_id: str | None) -> dict[str, object] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):  # e.g. `null`: damaged, so rebuilt, never trusted
        return None
    path = folder / filename
    if run_id is not None and manifest.get("run_id") != run_id:
        return None  # --ptq-rebuild: only what this run built counts
    if not path.is_file() or path.stat().st_size != manifest.get("size") or sha256_file(path) != manifest.get("sha256"):
        return None  # incomplete or altered
    return manifest


def cached(folder: Path, filename: str) -> Stored | None:
    """folder/filename when a complete, valid entry is there (never builds, never waits for a lock)."""
    manifest = _valid(folder, filename, None)
    if manifest is None:
        return None
    return Stored(folder / filename, str(manifest["sha256"]), int(manifest["size"]), built=False)


def get_or_build(
    folder: Path, filename: str, build: Callable[[Path], None], *, run_id: str, rebuild: bool = False
) -> Stored:
    """Return folder/filename, building it once under an inter-process lock if absent or invalid.

    `build(tmp)` writes to a temporary path that is renamed into place only on success; the
    manifest (size, sha256) is written last, so a half-written artifact is never trusted.
    """
    required_run = run_id if rebuild else None
    with lock(folder / filename):
        manifest = _valid(folder, filename, required_run)
        if manifest is not None:
            return Stored(folder / filename, str(manifest["sha256"]), int(manifest["size"]), built=False)
        (folder / MANIFEST).unlink(missing_ok=True)
        for stale in folder.glob(f".tmp-{filename}-*"):  # left by a builder that was killed mid-write
            shutil.rmtree(stale, ignore_errors=True)
        with atomic_path(folder / filename) as tmp:
            build(tmp)
        path = folder / filename
        digest, size = sha256_file(path), path.stat().st_size
        record = {"sha256": digest, "size": size, "run_id": run_id, "pid": os.getpid()}
        atomic_write_bytes(folder / MANIFEST, json.dumps(record, indent=1).encode())
        return Stored(path, digest, size, built=True)
