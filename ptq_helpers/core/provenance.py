"""Which run a results file is: when it started (UTC), the suite's version and git commit, the command line, the
machine (host name, a stable machine id, CPU name and flags), threads, Python and the platform.

A reader (report, compare) shows these fields; `describe` is the one place that words them.
"""
from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(SUITE), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git() -> dict[str, Any] | None:
    """The suite's checkout: commit and whether tracked files differ from it (None: not a git checkout)."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None,
            "branch": _git("rev-parse", "--abbrev-ref", "HEAD")}


def machine_id() -> str | None:
    """A stable id of this machine that does not reveal it: the first 16 hex digits of sha256(/etc/machine-id)."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw:
            return hashlib.sha256(raw.encode()).hexdigest()[:16]
    return None


def suite_version() -> str:
    try:
        return metadata.version("resnet8-ptq")
    except metadata.PackageNotFoundError:
        return "not installed"


def collect(command: Sequence[str], cwd: str, started: float, cpu: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """The provenance of one run; `cpu` is isa.cpu_facts() of the process that measured."""
    flags = cpu.get("flags") or {}
    return {
        "started_utc": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "suite_version": suite_version(),
        "git": git(),
        "command": list(command),
        "cwd": cwd,
        "host": socket.gethostname(),
        "machine_id": machine_id(),
        "cpu": cpu.get("model_name") or platform.processor() or "?",
        "cpu_flags": sorted(f for f, on in flags.items() if on),
        "cpu_flags_absent": sorted(f for f, on in flags.items() if not on),
        "threads": threads,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }


def describe(prov: Mapping[str, Any] | None) -> list[str]:
    """The provenance as short 'field: value' lines (empty for a file written before it existed)."""
    if not prov:
        return []
    g = prov.get("git") or {}
    commit = (f"{g.get('commit', '?')[:12]}" + (" (dirty: tracked files modified)" if g.get("dirty") else "")
              + (f" on {g['branch']}" if g.get("branch") else "")) if g else "not a git checkout"
    return [f"started: {prov.get('started_utc', '?')}",
            f"suite: resnet8-ptq {prov.get('suite_version', '?')}, commit {commit}",
            f"command: {' '.join(prov.get('command') or [])} (in {prov.get('cwd', '?')})",
            f"machine: {prov.get('host', '?')} (machine id {prov.get('machine_id') or 'unknown'}), "
            f"{prov.get('cpu', '?')}: {', '.join(prov.get('cpu_flags') or []) or 'no int8 flags'}",
            f"threads {prov.get('threads', '?')} per test process; Python {prov.get('python', '?')}; "
            f"{prov.get('platform', '?')}"]
