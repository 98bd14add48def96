"""What a pytest run knows about itself: its provenance (the JSON's meta.provenance, with pytest-benchmark's
machine_info and commit_info when it timed models), where an ini value came from, and --ptq-baseline's limits."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ptq_helpers import compare
from ptq_helpers.core import provenance
from ptq_helpers.core.isa import cpu_facts
from ptq_helpers.pytest_plugin.options import BASELINE_OPTIONS, INI_SOURCE


def collect(config: pytest.Config | None, started: float, threads: int) -> dict[str, Any]:
    """core.provenance of this run, with the command line as pytest was given it."""
    args = [str(a) for a in config.invocation_params.args] if config else []
    where = str(config.invocation_params.dir) if config else ""
    return provenance.collect(["pytest", *args], where, started, cpu_facts(), threads)


def with_benchmarks(prov: dict[str, Any], config: pytest.Config | None, timed: bool) -> dict[str, Any]:
    """The provenance plus pytest-benchmark's own machine_info and commit_info when this run timed models."""
    out = dict(prov)
    bench = getattr(config, "_benchmarksession", None) if config else None
    if timed and bench is not None:
        try:
            out["benchmark_machine_info"] = bench.get_machine_info()
            out["benchmark_commit_info"] = config.hook.pytest_benchmark_generate_commit_info(config=config)
        except Exception as exc:  # noqa: BLE001 - a third party's probe; the run's results stand without it
            out["benchmark_machine_info"] = f"not available ({type(exc).__name__}: {exc})"
    return out


def ini_source(config: pytest.Config) -> Callable[[str], str]:
    """Where an ini value of this run comes from: `-o key=...` when given there, else the ini file."""
    overrides = {o.split("=", 1)[0].strip() for o in getattr(config.option, "override_ini", None) or []}
    where = f"{config.inipath} {INI_SOURCE}" if config.inipath else INI_SOURCE
    return lambda name: f"-o {name}" if name in overrides else f"{where} {name}"


def baseline_limits(values: dict[str, Any]) -> compare.Limits:
    """--ptq-baseline's limits, each regression message naming the pytest option that sets it."""
    flags = {o.dest: o.flag + ("=yes" if o.dest == "allow_missing" else "=fail" if o.dest == "environment_change"
                               else "") for o in BASELINE_OPTIONS}
    return compare.Limits(**values, flags=flags)
