"""What changed between two runs besides the models: the thresholds, the environment (library versions, CPU and
its instruction sets, threads, Python, platform) and the run's setup (suite version and commit, matrix, targets,
model source and input contract, calibration, inputs). Read from two results payloads; files written before a
field existed simply do not show it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HOST = "host via the test process"


@dataclass(frozen=True)
class Change:
    """One field that differs: `kind` is 'thresholds', 'environment' or 'run'."""

    kind: str
    field: str
    old: Any
    new: Any

    def text(self) -> str:
        none = "off" if self.kind == "thresholds" else "not recorded"  # a limit of None is no limit
        return f"{self.field} {_show(self.old, none)} → {_show(self.new, none)}"


def _show(value: Any, none: str = "not recorded") -> str:
    if value is None:
        return none
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def _meta(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return data.get("meta") or {}


def _flags(data: Mapping[str, Any]) -> list[str] | None:
    """The int8-relevant ISA flags the test process had, or None when not recorded."""
    prov = _meta(data).get("provenance") or {}
    if "cpu_flags" in prov:
        return list(prov["cpu_flags"])
    flags = ((_meta(data).get("targets") or {}).get(HOST) or {}).get("cpu", {}).get("flags")
    return sorted(f for f, on in flags.items() if on) if isinstance(flags, Mapping) else None


def _targets(data: Mapping[str, Any]) -> list[str]:
    run = _meta(data).get("targets_run")
    if run is not None:
        return list(run)
    return list(dict.fromkeys(str(m.get("target", "host")) for m in data.get("models") or []))


def _commit(data: Mapping[str, Any]) -> str | None:
    g = (_meta(data).get("provenance") or {}).get("git") or {}
    return (g["commit"][:12] + ("+dirty" if g.get("dirty") else "")) if g.get("commit") else None


def _diff(kind: str, old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[Change]:
    keys = list(dict.fromkeys([*old, *new]))
    return [Change(kind, prefix + k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every recorded difference of NEW from OLD outside the models' own results, thresholds first."""
    mo, mn = _meta(old), _meta(new)
    po, pn = mo.get("provenance") or {}, mn.get("provenance") or {}
    found = _diff("thresholds", old.get("thresholds") or {}, new.get("thresholds") or {})
    found += _diff("environment", mo.get("versions") or {}, mn.get("versions") or {})
    singles = [("environment", "CPU", mo.get("cpu"), mn.get("cpu")),
               ("environment", "CPU flags", _flags(old), _flags(new)),
               ("environment", "threads", mo.get("threads"), mn.get("threads")),
               ("environment", "platform", po.get("platform"), pn.get("platform")),
               ("run", "suite version", po.get("suite_version"), pn.get("suite_version")),
               ("run", "commit", _commit(old), _commit(new)),
               ("run", "matrix", mo.get("matrix"), mn.get("matrix")),
               ("run", "targets", _targets(old), _targets(new))]
    found += [Change(kind, name, a, b) for kind, name, a, b in singles if a is not None and b is not None and a != b]
    found += [Change(k, n, a, b) for k, n, a, b in singles if (a is None) != (b is None) and k == "run"
              and n != "commit"]  # an older file without the field: said, never an environment change
    model_o, model_n = mo.get("model") or {}, mn.get("model") or {}
    found += _diff("run", {k: v for k, v in model_o.items() if k != "contract"},
                   {k: v for k, v in model_n.items() if k != "contract"}, "model ")
    found += _diff("run", model_o.get("contract") or {}, model_n.get("contract") or {}, "input contract ")
    found += _diff("run", mo.get("calibration") or {}, mn.get("calibration") or {}, "calibration ")
    hashes = [k for k in dict.fromkeys([*mo, *mn]) if k.endswith("_sha256")]
    found += [Change("run", f"input {k}", str(mo.get(k))[:12], str(mn.get(k))[:12])
              for k in hashes if mo.get(k) != mn.get(k) and mo.get(k) and mn.get(k)]
    return found


def threshold_changes(found: list[Change]) -> dict[str, Change]:
    return {c.field: c for c in found if c.kind == "thresholds"}


def environment(found: list[Change]) -> list[Change]:
    return [c for c in found if c.kind == "environment"]
