"""What instruction sets this process can really use, read so that it stays true under qemu-user.

Under `qemu-x86_64 -cpu Haswell`, /proc/cpuinfo is the HOST's file (qemu-user passes it through),
so it still lists avx512*/vnni. The CPUID instruction is emulated, so it reports the guest CPU:
`cpu_facts()` executes CPUID and XGETBV directly (a few bytes of machine code called through
ctypes), the same thing oneDNN, fbgemm and ONNX Runtime do when they pick int8 kernels.
numpy's own CPUID dispatch table is recorded next to it as a cross-check (it has no AVX-VNNI or
AMX entries), and /proc/cpuinfo is recorded only to show whether it agrees.
"""
from __future__ import annotations

import ctypes
import mmap
import platform
import shutil
import struct
from collections.abc import Callable

# flag -> (leaf, subleaf, register index in (eax, ebx, ecx, edx), bit, XCR0 bits the OS must enable)
_AVX, _AVX512, _AMX = 0x6, 0xE6, 0x60000
FLAGS: dict[str, tuple[int, int, int, int, int]] = {
    "avx2": (7, 0, 1, 5, _AVX),
    "avx512f": (7, 0, 1, 16, _AVX512),
    "avx512_vnni": (7, 0, 2, 11, _AVX512),
    "avx512_bf16": (7, 1, 0, 5, _AVX512),
    "avx_vnni": (7, 1, 0, 4, _AVX),
    "amx_bf16": (7, 0, 3, 22, _AMX),
    "amx_tile": (7, 0, 3, 24, _AMX),
    "amx_int8": (7, 0, 3, 25, _AMX),
}
_NUMPY_NAMES = {"avx2": "AVX2", "avx512f": "AVX512F", "avx512_vnni": "AVX512VNNI", "avx512_bf16": "AVX512BF16"}

# cpuid(leaf=edi, subleaf=esi, out=rdx) -> out[0..3] = eax, ebx, ecx, edx (rbx is callee-saved).
_CPUID_CODE = bytes.fromhex("53 89f8 89f1 4989d0 0fa2 418900 41895804 41894808 4189500c 5b c3")
# xgetbv(ecx=edi) -> edx:eax in rax.
_XGETBV_CODE = bytes.fromhex("89f9 0f01d0 48c1e220 4809d0 c3")

Regs = tuple[int, int, int, int]


class _Cpuid:
    """CPUID/XGETBV callable from Python: machine code in an executable anonymous mapping."""

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(_CPUID_CODE)
        self._page.seek(64)
        self._page.write(_XGETBV_CODE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        regs = ctypes.POINTER(ctypes.c_uint32 * 4)
        self._cpuid = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, regs)(base)
        self._xgetbv = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint32)(base + 64)

    def __call__(self, leaf: int, subleaf: int = 0) -> Regs:
        out = (ctypes.c_uint32 * 4)()
        self._cpuid(leaf, subleaf, ctypes.byref(out))
        return out[0], out[1], out[2], out[3]

    def xcr0(self) -> int:
        """XCR0 (register state the OS saves), 0 when the OS has not enabled XSAVE (OSXSAVE clear)."""
        return int(self._xgetbv(0)) if self(1)[2] >> 27 & 1 else 0


def _cpuid_facts() -> tuple[str, dict[str, bool]]:
    cpuid = _Cpuid()
    max_leaf, xcr0 = cpuid(0)[0], cpuid.xcr0()
    brand = b"".join(struct.pack("<4I", *cpuid(0x80000002 + i)) for i in range(3)) \
        if cpuid(0x80000000)[0] >= 0x80000004 else b""
    leaves: dict[tuple[int, int], Regs] = {}
    flags = {}
    for name, (leaf, sub, reg, bit, xsave) in FLAGS.items():
        if leaf > max_leaf:
            flags[name] = False
            continue
        regs = leaves.setdefault((leaf, sub), cpuid(leaf, sub))
        flags[name] = bool(regs[reg] >> bit & 1) and xcr0 & xsave == xsave
    return brand.rstrip(b"\0").decode("ascii", "replace").strip(), flags


def _numpy_flags() -> dict[str, bool]:
    from numpy._core._multiarray_umath import __cpu_features__ as features  # numpy >= 2

    return {name: bool(features.get(np_name, False)) for name, np_name in _NUMPY_NAMES.items()}


def _proc_cpuinfo() -> tuple[str, dict[str, bool]]:
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not name:
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return name, {flag: flag in flags for flag in FLAGS}


def _try(read: Callable[[], object]) -> tuple[object, str | None]:
    try:
        return read(), None
    except Exception as exc:  # noqa: BLE001 - a missing source is recorded, not fatal
        return None, f"{type(exc).__name__}: {exc}"


def cpu_facts() -> dict[str, object]:
    """CPU model and int8-relevant ISA flags as this process sees them, and where each came from.

    `flags` comes from CPUID+XGETBV when machine code can run (`source` = "cpuid"), else from
    numpy's dispatch table for the flags it knows and /proc/cpuinfo for the rest (`source` says so).
    """
    cpuinfo_name, cpuinfo_flags = _proc_cpuinfo()
    numpy_flags, numpy_error = _try(_numpy_flags)
    facts: dict[str, object] = {"machine": platform.machine()}
    read, cpuid_error = _try(_cpuid_facts) if platform.machine() in ("x86_64", "AMD64") else (None, "not x86")
    if read is not None:
        facts["model_name"], facts["flags"] = read
        facts["source"] = "cpuid"
    else:
        known = numpy_flags if isinstance(numpy_flags, dict) else {}
        facts["model_name"] = cpuinfo_name or platform.processor()
        facts["flags"] = {f: known.get(f, cpuinfo_flags[f]) for f in FLAGS}
        facts["source"] = f"numpy+/proc/cpuinfo (cpuid unavailable: {cpuid_error})"
    facts["numpy_flags"] = numpy_flags if numpy_error is None else numpy_error
    facts["proc_cpuinfo"] = {"model_name": cpuinfo_name, "flags": cpuinfo_flags}
    facts["proc_cpuinfo_agrees"] = cpuinfo_flags == facts["flags"]
    return facts


def qemu_binary() -> str | None:
    """Path of qemu-user for x86-64 (Debian's qemu-user or qemu-user-static), or None."""
    return shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")


def summary(facts: dict[str, object]) -> str:
    """e.g. 'AMD EPYC: avx2, avx512f, avx512_vnni (no avx_vnni, amx_int8)' — the flags that pick int8 kernels."""
    flags = facts.get("flags") or {}
    have = [f for f, on in flags.items() if on]  # type: ignore[union-attr]
    lack = [f for f, on in flags.items() if not on]  # type: ignore[union-attr]
    return (f"{facts.get('model_name') or '?'}: {', '.join(have) or 'none'}"
            + (f" (no {', '.join(lack)})" if lack else ""))


if __name__ == "__main__":
    import json

    print(json.dumps(cpu_facts(), indent=1))


def machine() -> dict[str, object]:
    """Which host this process runs on and the CPU kind it has (recorded per xdist worker)."""
    import socket

    facts = cpu_facts()
    flags = facts.get("flags") or {}
    return {"host": socket.gethostname(), "cpu": facts.get("model_name", "?"),
            "flags": sorted(f for f, on in flags.items() if on)}  # type: ignore[union-attr]
