"""The arm64 userland the Arm targets run their evaluation children in, prepared once and cached:

    python -m ptq_helpers.targets.arm_setup [--cache DIR] [--cpu cortex-a72 ...]

Debian's arm64 CPython 3.11 (`apt-get download <pkg>:arm64` + `dpkg -x`, no chroot, no debootstrap) and the
aarch64 wheels of the host's exact onnxruntime / numpy / ai-edge-litert versions and their dependencies
(`pip download --only-binary=:all: --platform manylinux_2_*_aarch64`, `pip install --no-deps --target`).
It lives in <cache>/arm64/<key>/, the key being the pinned wheel versions, the Debian package names and this
layout (computable offline, so a prepared userland is found without a network); building takes a file lock and
renames a finished folder into place, so concurrent runs prepare it once. Per emulated CPU, `cpu/<qemu cpu>/`
is a root for `qemu-aarch64 -L` whose `proc/cpuinfo` is written from the HWCAP/MIDR the emulated CPU itself
reports (qemu-user otherwise shows the x86 host's /proc/cpuinfo to the cpuinfo library ONNX Runtime uses).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from ptq_helpers.core.errors import PTQError

LAYOUT = 1
DEBS = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6", "libgcc-s1", "gcc-12-base",
        "libstdc++6", "libgomp1", "zlib1g", "libexpat1", "libffi8", "libbz2-1.0", "liblzma5", "libzstd1", "libssl3",
        "libcrypt1", "libdb5.3", "libmpdec3", "libuuid1", "libsqlite3-0", "libncursesw6", "libtinfo6",
        "libreadline8", "libnsl2", "libtirpc3", "libgssapi-krb5-2", "libk5crypto3", "libkrb5-3", "libkrb5support0",
        "libkeyutils1", "libcom-err2", "media-types")
# What the child imports under emulation: the runtimes, their runtime dependencies, the suite's own imports (onnx:
# ONNX Runtime's executed-precision facts read the optimized graph it saves on the target).
WHEELS = ("onnxruntime", "onnx", "numpy", "ai-edge-litert", "flatbuffers", "packaging", "protobuf", "ml_dtypes", "tqdm",
          "backports.strenum", "typing-extensions", "filelock")
PLATFORMS = ("manylinux2014_aarch64", *(f"manylinux_2_{m}_aarch64" for m in range(17, 37)))
PYTHON = "usr/bin/python3.11"
HOW_TO = "python -m ptq_helpers.targets.arm_setup"


class ArmSetupError(PTQError):
    """The arm64 userland is not prepared and could not be prepared; says how to prepare it."""


def pins() -> dict[str, str]:
    """The host's versions of every wheel the userland installs (the aarch64 side must match them)."""
    found = {}
    for name in WHEELS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in ("onnxruntime", "numpy"):
                raise ArmSetupError(f"the Arm targets pin their wheels to the host's versions, and {name} is not "
                                    f"installed here") from None
    return found


def key() -> str:
    text = json.dumps({"layout": LAYOUT, "debs": DEBS, "wheels": pins(), "python": "3.11", "platforms": PLATFORMS},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache() -> Path:
    from ptq_helpers.data.assets import resolve_cache_dir

    return resolve_cache_dir(None)


def home(cache: Path) -> Path:
    return cache / "arm64" / key()


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ArmSetupError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{(proc.stderr or proc.stdout)[-1500:]}")
    return proc.stdout


def _system(allow: bool) -> None:
    """Make apt know arm64 packages (only when asked to: it changes the machine's dpkg configuration)."""
    if "arm64" in _run(["dpkg", "--print-foreign-architectures"]).split():
        if _run(["apt-cache", "policy", "libc6:arm64"]).find("Candidate: (none)") < 0:
            return
    if not allow:
        raise ArmSetupError("apt has no arm64 packages: dpkg --add-architecture arm64 && apt-get update (as root)")
    _run(["dpkg", "--add-architecture", "arm64"])
    _run(["apt-get", "update"])


def _candidates(policy: str) -> list[str]:
    """The packages of one `apt-cache policy a:arm64 b:arm64 ...` (one call: each costs ~1.4 s of cache loading)
    that have a candidate; apt prints nothing for a name it does not know."""
    found, name = [], None
    for line in policy.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            name = line[:-1].removesuffix(":arm64")
        elif name and line.strip().startswith("Candidate:") and "(none)" not in line:
            found.append(name)
    return found


def _build(dest: Path) -> dict[str, object]:
    debs, wheels, root = dest / "debs", dest / "wheels", dest / "root"
    for folder in (debs, wheels, root):
        folder.mkdir(parents=True)
    available = _candidates(_run(["apt-cache", "policy", *(f"{d}:arm64" for d in DEBS)]))
    _run(["apt-get", "download", *(f"{d}:arm64" for d in available)], cwd=debs)
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(root)])
    wanted = [f"{n}=={v}" for n, v in pins().items()]
    platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
    common = ["--only-binary=:all:", *platform_args, "--python-version", "3.11", "--implementation", "cp",
              "--abi", "cp311", "--no-deps"]
    _run([sys.executable, "-m", "pip", "download", "-q", *common, "-d", str(wheels), *wanted])
    _run([sys.executable, "-m", "pip", "install", "-q", *common, "--target", str(dest / "site"),
          *map(str, sorted(wheels.glob("*.whl")))])
    names = sorted(p.name for p in debs.glob("*.deb"))
    shutil.rmtree(debs)
    return {"key": key(), "debs": names, "wheels": sorted(p.name for p in wheels.glob("*.whl")), "pins": pins()}


def _locked(folder: Path, marker: str, make) -> Path:  # noqa: ANN001 - make(tmp) fills a fresh folder
    """folder/marker once: built under a lock into a temporary sibling, renamed into place when complete."""
    from filelock import FileLock

    if (folder / marker).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if (folder / marker).is_file():
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            (tmp / marker).write_text(json.dumps(make(tmp), indent=1))
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def userland(cache: Path, prepare: bool = True, system: bool = False) -> Path:
    """The prepared userland folder (root/, site/); prepares it when allowed, else says how to."""
    folder = home(cache)
    if (folder / "manifest.json").is_file():
        return folder
    if not prepare:
        raise ArmSetupError(f"the arm64 userland is not prepared in {folder}; prepare it once with: {HOW_TO}")

    def make(tmp: Path) -> dict[str, object]:
        _system(system)
        shutil.rmtree(tmp)
        tmp.mkdir()
        return _build(tmp)

    try:
        return _locked(folder, "manifest.json", make)
    except (ArmSetupError, OSError) as exc:
        raise ArmSetupError(f"the arm64 userland for the Arm targets is not in {folder} and preparing it failed "
                            f"(it needs a Debian mirror and PyPI once): {exc}\nprepare it with: {HOW_TO}") from exc


def qemu_aarch64() -> str | None:
    return shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")


def guest_env(folder: Path) -> dict[str, str]:
    """Environment of a Python process in the userland: its wheels and this checkout, nothing of the host's venv."""
    repo = Path(__file__).resolve().parents[2]
    drop = ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONPATH=f"{folder / 'site'}:{repo}", PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def cpu_root(cache: Path, qemu_cpu: str, prepare: bool = True) -> tuple[Path, dict[str, object]]:
    """The -L root for one emulated CPU (the userland's directories, linked, and its own proc/cpuinfo) and the
    facts its CPU reported when the root was written."""
    folder = userland(cache, prepare)
    emulator = qemu_aarch64()
    if emulator is None:
        raise ArmSetupError("the Arm targets need qemu-user: apt-get install qemu-user")

    def make(tmp: Path) -> dict[str, object]:
        root = folder / "root"
        for entry in root.iterdir():
            (tmp / entry.name).symlink_to(entry)
        proc = subprocess.run([emulator, "-cpu", qemu_cpu, "-L", str(tmp), str(root / PYTHON), "-S", "-m",
                               "ptq_helpers.targets.arm_cpu"], capture_output=True, text=True,
                              env=guest_env(folder), timeout=600)
        if proc.returncode != 0:
            raise ArmSetupError(f"reading the CPU of qemu-aarch64 -cpu {qemu_cpu} failed:\n{proc.stderr[-1500:]}")
        facts = json.loads(proc.stdout)
        from ptq_helpers.targets.arm_cpu import cpuinfo_text

        (tmp / "proc").mkdir()
        (tmp / "proc" / "cpuinfo").write_text(cpuinfo_text(facts, os.cpu_count() or 1))
        return facts

    root = _locked(folder / "cpu" / qemu_cpu, "facts.json", make)
    return root, json.loads((root / "facts.json").read_text())


CPUS = ("cortex-a72", "neoverse-n1", "max,sme=off")  # the qemu CPUs of the Arm targets (ptq_helpers.targets.arm64)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=HOW_TO, description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, help="the suite's cache folder (default: $RESNET8_PTQ_CACHE or its default)")
    p.add_argument("--cpu", action="append", help="also write the root of this qemu CPU (repeatable; default: "
                                                  "every Arm target's)")
    p.add_argument("--no-system", action="store_true", help="never run dpkg --add-architecture / apt-get update")
    args = p.parse_args(argv)
    cache = args.cache or default_cache()
    try:
        folder = userland(cache, prepare=True, system=not args.no_system)
        cpus = args.cpu or list(CPUS)
        for cpu in cpus:
            _, facts = cpu_root(cache, cpu)
            print(f"{cpu}: {facts['model_name']}: {' '.join(facts['features'])}")  # type: ignore[arg-type]
    except ArmSetupError as exc:
        print(f"arm setup: {exc}", file=sys.stderr)
        return 1
    print(f"arm64 userland ready: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
