"""How this machine reaches each target, without running anything:

    python -m ptq_helpers.targets                 # every target: native, emulated (qemu) or in a child
    python -m ptq_helpers.targets --native avx2   # exit 0 if the host itself is that CPU (no qemu), else 1

`.ci/run` uses `--native avx2`: on an AVX2-only host the avx2 gate runs natively in minutes; on a host with
AVX-512 it would run every evaluation under qemu-x86_64, which can take hours.
"""
from __future__ import annotations

import argparse
import sys

from ptq_helpers.core.isa import cpu_facts, summary
from ptq_helpers.targets.registry import TARGETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptq_helpers.targets", description=__doc__.splitlines()[0])
    parser.add_argument("--native", metavar="TARGET", choices=sorted(TARGETS),
                        help="exit 0 if this host's CPU already is TARGET (it is evaluated without emulation)")
    args = parser.parse_args(argv)
    if args.native:
        target = TARGETS[args.native]
        native = target.host_is_target()
        print(f"{target.name}: {'native' if native else 'not native'} on this host ({summary(cpu_facts())})")
        return 0 if native else 1
    print(f"host: {summary(cpu_facts())}")
    for target in TARGETS.values():
        if target.is_host:
            continue
        how = ("natively (the host is this CPU)" if target.host_is_target()
               else f"qemu-{target.arch} -cpu {target.qemu_cpu}" if target.qemu_cpu else "in child processes")
        print(f"{target.name}: {how} - {target.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
