"""What an aarch64 process really runs on, read so that it stays true under qemu-aarch64 (standard library only:
it runs inside the emulated Arm userland, as the evaluation child and as `python -m ptq_helpers.targets.arm_cpu`).

qemu-user passes the host's /proc/cpuinfo through, so the flags come from the kernel's auxiliary vector
(getauxval(AT_HWCAP), getauxval(AT_HWCAP2): qemu fills them from the emulated CPU) and the model from MIDR_EL1,
read with `mrs` (Linux and qemu-user both emulate EL0 reads of the ID registers when HWCAP says `cpuid`).
`cpuinfo_text()` writes a /proc/cpuinfo from those facts, for the per-CPU roots of ptq_helpers.targets.arm_setup.
"""
from __future__ import annotations

import ctypes
import mmap
import platform

AT_HWCAP, AT_HWCAP2 = 16, 26
# Linux arch/arm64/include/uapi/asm/hwcap.h, bit by bit (the names /proc/cpuinfo's "Features" line uses).
HWCAP = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop "
         "sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg").split()
HWCAP2 = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm svebf16 "
          "i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme smei16i64 smef64f64 smei8i32 smef16f32 smeb16f32 "
          "smef32f32 smefa64 wfxt ebf16 sveebf16").split()
# The flags that pick int8 kernels (ONNX Runtime's MLAS, XNNPACK), recorded even when absent.
INT8_FLAGS = ("asimd", "asimddp", "i8mm", "sve", "sve2", "sme")
PARTS = {(0x41, 0xD03): "Cortex-A53", (0x41, 0xD07): "Cortex-A57", (0x41, 0xD08): "Cortex-A72",
         (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1", (0x41, 0xD40): "Neoverse-V1",
         (0x41, 0xD49): "Neoverse-N2", (0x41, 0xD4F): "Neoverse-V2", (0x41, 0xD41): "Cortex-A78",
         (0x41, 0xD44): "Cortex-X1", (0x41, 0xD46): "Cortex-A510", (0x41, 0xD47): "Cortex-A710"}
_MRS_MIDR = bytes.fromhex("000038d5" "c0035fd6")  # mrs x0, midr_el1; ret


def _getauxval(kind: int) -> int:
    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    libc.getauxval.argtypes = (ctypes.c_ulong,)
    return int(libc.getauxval(kind))


def _midr() -> int:
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(_MRS_MIDR)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    value = int(ctypes.CFUNCTYPE(ctypes.c_uint64)(address)())
    return value


def decode(hwcap: int, hwcap2: int, midr: int | None) -> dict[str, object]:
    """The facts as the targets check them: model name, every HWCAP flag by name, MIDR fields."""
    names = [n for i, n in enumerate(HWCAP) if hwcap >> i & 1] + [n for i, n in enumerate(HWCAP2) if hwcap2 >> i & 1]
    flags = {f: f in names for f in INT8_FLAGS} | {n: True for n in names}
    facts: dict[str, object] = {"machine": "aarch64", "source": "hwcap+midr", "hwcap": hex(hwcap),
                                "hwcap2": hex(hwcap2), "features": names, "flags": flags}
    if midr is None:
        facts["model_name"] = "unknown aarch64 (MIDR_EL1 not readable)"
        return facts
    implementer, variant = midr >> 24 & 0xFF, midr >> 20 & 0xF
    part, revision = midr >> 4 & 0xFFF, midr & 0xF
    facts.update(midr=f"0x{midr:08x}", implementer=f"0x{implementer:02x}", part=f"0x{part:03x}",
                 variant=f"0x{variant:x}", revision=revision,
                 model_name=PARTS.get((implementer, part),
                                      f"aarch64 implementer 0x{implementer:02x} part 0x{part:03x}"))
    return facts


def cpu_facts() -> dict[str, object]:
    """The CPU this aarch64 process sees (HWCAP and MIDR), never the host's /proc/cpuinfo."""
    if platform.machine() not in ("aarch64", "arm64"):
        raise RuntimeError(f"arm_cpu.cpu_facts() needs an aarch64 process, this is {platform.machine()}")
    hwcap, hwcap2 = _getauxval(AT_HWCAP), _getauxval(AT_HWCAP2)
    try:
        midr = _midr() if hwcap >> HWCAP.index("cpuid") & 1 else None
    except OSError:
        midr = None
    return decode(hwcap, hwcap2, midr)


def cpuinfo_text(facts: dict[str, object], processors: int) -> str:
    """A Linux arm64 /proc/cpuinfo for `processors` identical cores of the CPU `facts` describe."""
    midr = int(str(facts.get("midr") or "0x0"), 16)
    block = (f"BogoMIPS\t: 100.00\nFeatures\t: {' '.join(facts['features'])}\n"  # type: ignore[arg-type]
             f"CPU implementer\t: 0x{midr >> 24 & 0xFF:02x}\nCPU architecture: 8\nCPU variant\t: "
             f"0x{midr >> 20 & 0xF:x}\n"
             f"CPU part\t: 0x{midr >> 4 & 0xFFF:03x}\nCPU revision\t: {midr & 0xF}\n\n")
    return "".join(f"processor\t: {i}\n{block}" for i in range(processors))


if __name__ == "__main__":
    import json

    print(json.dumps(cpu_facts(), indent=1))
