"""Everything one run measured, typed; one serialisation for the xdist worker -> controller hand-over."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ptq_helpers.record import ModelRecord, linked


@dataclass(frozen=True)
class BuildEvent:
    """A model or prediction set that a process built or reused from the cache."""

    case: str
    what: str  # "model", "predictions", "model (draw 2)", ...
    built: bool
    worker: str = ""


@dataclass(frozen=True)
class Reference:
    """A model measured on the same images but not gated (e.g. MLPerf's own int8 TFLite)."""

    id: str
    framework: str
    dtype: str
    correct: int
    total: int
    accuracy: float
    size_bytes: int
    note: str


Figures = dict[str, Any]  # JSON-ready numbers produced by speed.figures / stats.sweep_summary / diagnose


@dataclass
class RunResults:
    """Records, build events, benchmarks, sweeps, diagnosis and references of one process (or, on the
    xdist controller, of all workers merged)."""

    records: dict[str, ModelRecord] = field(default_factory=dict)
    events: list[BuildEvent] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # content hashes of the run's inputs
    bench: dict[str, dict[str, Figures]] = field(default_factory=dict)  # case id -> batch -> figures
    sweep: dict[str, Figures] = field(default_factory=dict)  # case id -> calibration-draw spread
    diagnosis: Figures = field(default_factory=dict)  # per-layer SQNR of one model
    references: dict[str, Reference] = field(default_factory=dict)

    def add(self, record: ModelRecord) -> None:
        self.records[record.id] = record
        if record.base is not None:
            self.records.setdefault(record.base.id, record.base)

    def add_benchmark(self, case_id: str, batch: int, figures: Figures) -> None:
        self.bench.setdefault(case_id, {})[str(batch)] = figures

    def add_sweep(self, case_id: str, summary: Figures) -> None:
        self.sweep[case_id] = summary

    def set_diagnosis(self, diagnosis: Figures) -> None:
        self.diagnosis = dict(diagnosis)

    def add_reference(self, reference: Reference) -> None:
        self.references[reference.id] = reference

    def linked_records(self) -> dict[str, ModelRecord]:
        return linked(self.records.values())

    def export(self) -> str:
        """This process's results as JSON (what an xdist worker ships to the controller)."""
        return json.dumps({
            "records": [r.to_json() for r in self.records.values()],
            "events": [asdict(e) for e in self.events],
            "hashes": self.hashes, "bench": self.bench, "sweep": self.sweep, "diagnosis": self.diagnosis,
            "references": [asdict(r) for r in self.references.values()],
        })

    def merge(self, exported: str, worker: str) -> None:
        """Fold a worker's export into this (controller) object."""
        data = json.loads(exported or "{}")
        for rec in data.get("records", []):
            self.records[rec["id"]] = ModelRecord.from_json(rec)
        self.events += [BuildEvent(**{**e, "worker": worker}) for e in data.get("events", [])]
        self.hashes.update(data.get("hashes", {}))
        for case_id, figures in data.get("bench", {}).items():
            self.bench.setdefault(case_id, {}).update(figures)
        self.sweep.update(data.get("sweep", {}))
        self.diagnosis.update(data.get("diagnosis", {}))
        for ref in data.get("references", []):
            self.add_reference(Reference(**ref))
