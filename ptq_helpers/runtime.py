"""Thread counts, set in one place, and the library versions that a result depends on."""
from __future__ import annotations

import os
import platform
from importlib import metadata

LIBRARIES = ("numpy", "onnx", "onnxruntime", "torch", "torchvision", "onnx2torch", "filelock", "pooch")


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads(workers: int) -> int:
    """Split the cores between xdist workers so they do not oversubscribe the machine."""
    return max(1, available_cores() // max(1, workers))


def set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def versions() -> dict[str, str]:
    """Installed versions of the libraries that produce the numbers (no imports needed)."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
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
