"""Thread counts, set in one place, and the library versions that a result depends on."""
from __future__ import annotations

import os
import platform
from importlib import metadata

# What every result depends on; the frameworks and targets declare their own libraries on their registry entries.
LIBRARIES = ("numpy", "filelock", "pooch")


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def physical_cores() -> int:
    """Physical cores among the CPUs this process may use (SMT siblings counted once)."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores: set[tuple[str, str]] = set()
    try:
        with open("/proc/cpuinfo") as fh:
            blocks = fh.read().strip().split("\n\n")
    except OSError:
        return available_cores()
    for block in blocks:
        info = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        if allowed is not None and int(info.get("processor", -1)) not in allowed:
            continue
        cores.add((info.get("physical id", "0"), info.get("core id", info.get("processor", "0"))))
    return len(cores) or available_cores()


def default_threads(workers: int) -> int:
    """Physical cores, split between xdist workers so they do not oversubscribe the machine."""
    return max(1, physical_cores() // max(1, workers))


def versions(libraries: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the libraries that produce the numbers (no imports needed)."""
    found = {"python": platform.python_version()}
    for name in dict.fromkeys((*LIBRARIES, *libraries)):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def cpu_name() -> str:
    """The CPU model, as the report and benchmark tables name it."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

