"""Atomic writes, content hashes and inter-process locks for the on-disk cache."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ptq_helpers.core.errors import CacheError
from ptq_helpers.core.progress import say

_disk_usage = shutil.disk_usage  # tests replace this, not shutil's
LOCK_WAIT_NOTICE_S = 10.0  # say who holds a lock after this long, then every LOCK_WAIT_REPEAT_S
LOCK_WAIT_REPEAT_S = 60.0


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path with dest's file name, in a private folder beside dest; on success it
    replaces dest in one step, else it is removed. (The same name matters: TorchScript archives embed it.)
    Only a regular file is ever replaced: a device (/dev/null), pipe, socket, folder or symbolic link at dest is
    the user's and is refused (OSError), never renamed over."""
    if dest.is_symlink() or (dest.exists() and not dest.is_file()):
        kind = "a symbolic link" if dest.is_symlink() else "a folder" if dest.is_dir() else "a device, pipe or socket"
        raise FileExistsError(errno.EEXIST, f"{dest} is {kind}, not a regular file; it is never replaced")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
        tmp = work / dest.name
        try:
            yield tmp
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except OSError as exc:
        if not disk_full(exc, dest.parent):
            raise
        raise CacheError(f"{dest}: the disk is full ({exc}); nothing half-written was kept. Free space on "
                         f"{dest.parent}, or point --ptq-cache-dir / $RESNET8_PTQ_CACHE at a bigger disk") from None


def disk_full(exc: OSError, folder: Path) -> bool:
    """Whether a failed write ran out of space (numpy's short writes carry no errno, so ask the disk too)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return _disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def _holder(path: Path) -> str:
    try:
        who = json.loads(path.read_text())
        return f"pid {who['pid']} on {who['host']} (since {time.strftime('%H:%M:%S', time.localtime(who['since']))})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def lock(target: Path, timeout: float = 1800) -> Iterator[None]:
    """Hold an inter-process lock named after target (xdist workers, concurrent CI jobs). While waiting, say
    every few seconds who holds it and how long this process will wait; past `timeout`, one CacheError."""
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.with_name(f".{target.name}.lock")
    holder = path.with_name(path.name + ".holder")
    filelock, started, step = FileLock(str(path)), time.monotonic(), LOCK_WAIT_NOTICE_S
    while True:
        try:
            filelock.acquire(timeout=min(step, max(0.0, timeout - (time.monotonic() - started))))
            break
        except Timeout:
            waited = time.monotonic() - started
            if waited >= timeout:
                raise CacheError(f"{target}: still locked by {_holder(holder)} after {waited:.0f} s; if that process "
                                 f"is stuck, stop it (the lock is released when it exits)") from None
            step = max(LOCK_WAIT_NOTICE_S, LOCK_WAIT_REPEAT_S)
            say(f"waiting for {target.parent.name}/{target.name}: locked by {_holder(holder)}, "
                f"{waited:.0f} s so far (gives up after "
                f"{f'{timeout / 60:.0f} min' if timeout >= 60 else f'{timeout:.0f} s'})")
    try:
        holder.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
        yield
    finally:
        holder.unlink(missing_ok=True)
        filelock.release()
