"""Compile an int8 .tflite for an Arm Ethos-U NPU with the Vela CLI and read its performance summary.

Vela 5.x compiles with its C++ core (Regor) by default. Its summary CSV
(`<network>_summary_<system-config>.csv`, one row) gives time, cycles and memory; the CPU/NPU
operator split is only printed on stdout, which is kept next to the CSV as `<network>_vela.log`.
"""
from __future__ import annotations

import csv
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ptq_helpers.core.errors import PTQError

DEFAULT_CONFIG = "Arm/vela.ini"  # bundled with ethos-u-vela
DEFAULT_SYSTEM = "Ethos_U55_High_End_Embedded"
DEFAULT_MEMORY_MODE = "Shared_Sram"
TAIL_LINES = 12
TIMEOUT_S = 600.0

_OPS = re.compile(r"^(CPU|NPU) operators = (\d+) ")
_CPU_OP = re.compile(r"^\s+CPU: \S+ = (.*) \(outputs \[[^\]]*\]\)$")
_UNSUPPORTED = re.compile(r"^Warning \(supported operators\) operator: (\w+), ofm: '(.*)'$")


class VelaError(PTQError):
    """Vela failed or wrote no readable summary; the message carries its own error lines."""


@dataclass(frozen=True)
class VelaSummary:
    """The numbers of one Vela compilation (sizes in bytes, from Vela's KiB with 1 KiB = 1024 B)."""

    inference_time_s: float  # estimated, one inference (batch 1)
    cycles_npu: int
    cycles_total: int  # NPU cycles plus memory-access cycles not hidden by them
    sram_bytes: int  # total SRAM used (feature maps, weight buffers)
    flash_bytes: int  # off-chip flash used (weights and command stream)
    npu_ops: int  # as listed with --show-cpu-operations (lowered ops: 51 for ResNet8; Vela's plain summary says 43)
    cpu_ops: int
    cpu_fallback_ops: tuple[str, ...]  # original op types left to the CPU, e.g. ("SOFTMAX",)
    csv_path: Path  # the raw summary row
    log_path: Path  # Vela's stdout


def _message(stderr: str, stdout: str) -> str:
    """Vela's own words: the exception line of a traceback (not the frames), else the output's last lines."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in lines):
        lines = [line for line in lines if not line.startswith(" ") and not line.startswith("Traceback")][-1:]
    lines += [line for line in stdout.splitlines() if line.strip()][-TAIL_LINES:]
    return "\n".join(lines[-TAIL_LINES:]) or "(no output)"


def _cpu_fallbacks(stdout: str) -> tuple[str, ...]:
    """Op types of the CPU operators: `CPU: <kind> = <ofm>` lines matched to unsupported-op warnings by ofm."""
    types: dict[str, str] = {}
    for line in stdout.splitlines():
        found = _UNSUPPORTED.match(line)
        if found:
            types.setdefault(found.group(2), found.group(1))
    names = (m.group(1) for m in map(_CPU_OP.match, stdout.splitlines()) if m)
    return tuple(types.get(name, f"UNKNOWN({name})") for name in names)


def compile_for_npu(path: Path, out_dir: Path, accelerator: str = "ethos-u55-128", *,
                    system_config: str = DEFAULT_SYSTEM,
            memory_mode: str = DEFAULT_MEMORY_MODE, config: str = DEFAULT_CONFIG) -> VelaSummary:
    """Run `vela` (as `python -m ethosu.vela`) on `path`, writing into `out_dir`; parse its summary.

    Raises VelaError with Vela's last output lines (not a traceback of this module) on failure.
    """
    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "ethosu.vela", str(path), "--output-dir", str(out_dir),
           "--accelerator-config", accelerator, "--config", config, "--system-config", system_config,
           "--memory-mode", memory_mode, "--show-cpu-operations"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VelaError(f"vela timed out after {TIMEOUT_S:g} s on {path}\nreproduce: {shlex.join(cmd)}") from None
    log_path = out_dir / f"{path.stem}_vela.log"
    log_path.write_text(proc.stdout)
    if proc.returncode != 0:
        raise VelaError(f"vela failed on {path} (exit {proc.returncode}):\n{_message(proc.stderr, proc.stdout)}\n"
                        f"reproduce: {shlex.join(cmd)}")
    csv_path = out_dir / f"{path.stem}_summary_{system_config}.csv"
    try:
        with open(csv_path, newline="") as fh:
            row = next(csv.DictReader(fh))
        counts = {m.group(1): int(m.group(2)) for m in map(_OPS.match, proc.stdout.splitlines()) if m}
        return VelaSummary(
            inference_time_s=float(row["inference_time"]),
            cycles_npu=int(float(row["cycles_npu"])),
            cycles_total=int(float(row["cycles_total"])),
            sram_bytes=round(float(row["sram_memory_used"]) * 1024),
            flash_bytes=round(float(row["off_chip_flash_memory_used"]) * 1024),
            npu_ops=counts["NPU"],
            cpu_ops=counts["CPU"],
            cpu_fallback_ops=_cpu_fallbacks(proc.stdout),
            csv_path=csv_path,
            log_path=log_path,
        )
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        raise VelaError(f"vela ran on {path} but its summary is unreadable ({type(exc).__name__}: {exc}); "
                        f"expected {csv_path} and 'CPU/NPU operators' lines in {log_path}") from None
