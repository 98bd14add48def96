"""Executed precision: which of a build's compute layers (the source model's Conv, Gemm and MatMul) its runtime
runs as integer kernels and which in float, as the runtime itself reports it (ONNX Runtime's optimized graph,
OpenVINO's runtime model, the LiteRT interpreter's ops and tensor types, the TorchScript graph or the code Inductor
generated). The backends write it into a record's runtime facts as `runtime["executed"]`; this is its typed form.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KEY = "executed"  # where it lives in a record's runtime facts


@dataclass(frozen=True)
class Executed:
    """Layer names by the precision they execute in, how that was found, and why layers run in float."""

    integer: tuple[str, ...] = ()
    float: tuple[str, ...] = ()
    how: str = ""  # what was asked of which runtime
    causes: tuple[str, ...] = ()  # why layers run in float, when the backend can tell
    kernels: Mapping[str, str] = field(default_factory=dict)  # layer -> the runtime's op that runs it
    emulated: str = ""  # "emulated: no integer kernels on CPU (...)": an accuracy-only row, as its backend says
    kernel_note: str = ""  # which kernel library ran it when not the runtime's default (e.g. no XNNPACK for int16)

    @property
    def layers(self) -> int:
        return len(self.integer) + len(self.float)

    @property
    def all_integer(self) -> bool:
        return bool(self.integer) and not self.float

    def summary(self) -> str:
        """'integer 10/10', 'integer 5/10, 5 float' or 'float 10/10'."""
        if not self.layers:
            return "no compute layers found"
        if self.emulated:
            return f"emulated, float {len(self.float)}/{self.layers}" if self.float else f"emulated {self.layers}"
        if not self.integer:
            return f"float {self.layers}/{self.layers}"
        return f"integer {len(self.integer)}/{self.layers}" + (f", {len(self.float)} float" if self.float else "")

    def to_json(self) -> dict[str, Any]:
        return {"integer": list(self.integer), "float": list(self.float), "how": self.how,
                "causes": list(self.causes), "kernels": dict(self.kernels),
                **({"emulated": self.emulated} if self.emulated else {}),
                **({"kernel_note": self.kernel_note} if self.kernel_note else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Executed:
        return cls(tuple(data.get("integer") or ()), tuple(data.get("float") or ()), str(data.get("how") or ""),
                   tuple(data.get("causes") or ()), dict(data.get("kernels") or {}), str(data.get("emulated") or ""),
                   str(data.get("kernel_note") or ""))


def of(runtime: Mapping[str, Any] | None) -> Executed | None:
    """The executed precision in a record's runtime facts, or None when the runtime was not asked."""
    found = (runtime or {}).get(KEY)
    return Executed.from_json(found) if isinstance(found, Mapping) else None
