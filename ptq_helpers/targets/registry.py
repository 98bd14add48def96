"""The registry of deployment targets: each is declared in its own module, and this is the only list of them.
Adding a target is its module plus its line in `TARGETS` (a conftest may add more: tests/selftest, the toy
target)."""
from __future__ import annotations

from ptq_helpers.targets import arm64
from ptq_helpers.targets.avx2 import AVX2
from ptq_helpers.targets.base import Target
from ptq_helpers.targets.host import HOST
from ptq_helpers.targets.tflm import MCU

TARGETS: dict[str, Target] = {t.name: t for t in (HOST, AVX2, MCU, *arm64.TARGETS)}


def register(target: Target) -> None:
    """Add a target (its name must be new)."""
    if target.name in TARGETS:
        raise ValueError(f"target {target.name!r} is already registered")
    TARGETS[target.name] = target


def parse_targets(raw: str) -> tuple[str, ...]:
    """`host,avx2` -> ('host', 'avx2'); unknown names are refused with the known ones (argparse type=)."""
    import argparse

    names = tuple(dict.fromkeys(n.strip() for n in str(raw).split(",") if n.strip()))
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown target {', '.join(map(repr, unknown)) or repr(raw)}; "
                                         f"known: {', '.join(TARGETS)} (comma-separated, e.g. host,avx2)")
    return names
