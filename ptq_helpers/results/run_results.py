"""Everything one run measured, typed; one serialisation for the xdist worker -> controller hand-over."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord, linked


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
    target: str = "host"
    kernels: str = ""  # which kernel library produced the number


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
    recipe: dict[str, Figures] = field(default_factory=dict)  # case id -> recipe-level uncertainty (K draws)
    diagnosis: Figures = field(default_factory=dict)  # per-layer SQNR of one model
    references: dict[str, Reference] = field(default_factory=dict)
    targets: dict[str, Figures] = field(default_factory=dict)  # target -> the CPU its children saw, and how
    mcu: dict[str, McuBudget] = field(default_factory=dict)  # int8 .tflite -> Ethos-U / TFLM budgets
    machine: Figures = field(default_factory=dict)  # this process's host: name, CPU, ISA flags
    labels: str = ""  # the test labels as digits (held-out selection needs the classes)
    workers: dict[str, Figures] = field(default_factory=dict)  # on the controller: xdist worker -> its machine
    order: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # (model ids, targets): the matrix order of records
    ran: dict[str, list[str]] = field(default_factory=dict)  # record key -> the gates whose test ran (gates.verdict)

    def add_ran(self, key: str, gate: str) -> None:
        if gate not in self.ran.setdefault(key, []):
            self.ran[key].append(gate)

    def mixed_machines(self) -> list[str]:
        """One line per kind of CPU the workers ran on, when there is more than one (else empty)."""
        kinds: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for worker, m in sorted(self.workers.items()):
            kinds.setdefault((str(m.get("cpu")), tuple(m.get("flags", ()))), []).append(f"{worker} on {m.get('host')}")
        if len(kinds) < 2:
            return []
        return [f"{cpu} [{', '.join(flags)}]: {', '.join(w)}" for (cpu, flags), w in kinds.items()]

    def add(self, record: ModelRecord) -> None:
        self.records[record.key] = record
        if record.base is not None:
            self.records.setdefault(record.base.key, record.base)

    def add_benchmark(self, case_id: str, batch: int, figures: Figures) -> None:
        self.bench.setdefault(case_id, {})[str(batch)] = figures

    def add_sweep(self, case_id: str, summary: Figures) -> None:
        self.sweep[case_id] = summary

    def add_recipe(self, case_id: str, summary: Figures) -> None:
        self.recipe[case_id] = summary

    def set_diagnosis(self, diagnosis: Figures) -> None:
        self.diagnosis = dict(diagnosis)

    def add_reference(self, reference: Reference) -> None:
        key = reference.id if reference.target == "host" else f"{reference.id}@{reference.target}"
        self.references[key] = reference

    def add_mcu_budget(self, budget: McuBudget) -> None:
        self.mcu[budget.id] = budget

    def add_target_facts(self, target: str, facts: Figures) -> None:
        self.targets[f"{target} via {facts['how']}"] = facts

    def linked_records(self) -> dict[str, ModelRecord]:
        """The records linked to their baselines, in matrix order (unknown models and targets last)."""
        ids, targets = ({name: i for i, name in enumerate(names)} for names in self.order)
        rank = lambda r: (ids.get(r.id, len(ids)), targets.get(r.target, len(targets)))  # noqa: E731
        return linked(sorted(self.records.values(), key=rank))

    def export(self) -> str:
        """This process's results as JSON (what an xdist worker ships to the controller)."""
        return json.dumps({
            "records": [r.to_json() for r in self.records.values()],
            "events": [asdict(e) for e in self.events],
            "hashes": self.hashes, "bench": self.bench, "sweep": self.sweep, "recipe": self.recipe,
            "diagnosis": self.diagnosis,
            "references": [asdict(r) for r in self.references.values()], "targets": self.targets,
            "mcu": [asdict(b) for b in self.mcu.values()], "machine": self.machine, "labels": self.labels,
            "ran": self.ran,
        })

    def merge(self, exported: str, worker: str) -> None:
        """Fold a worker's export into this (controller) object."""
        data = json.loads(exported or "{}")
        for rec in data.get("records", []):
            record = ModelRecord.from_json(rec)
            self.records[record.key] = record
        self.events += [BuildEvent(**{**e, "worker": worker}) for e in data.get("events", [])]
        self.hashes.update(data.get("hashes", {}))
        for case_id, figures in data.get("bench", {}).items():
            self.bench.setdefault(case_id, {}).update(figures)
        self.sweep.update(data.get("sweep", {}))
        self.recipe.update(data.get("recipe", {}))
        self.diagnosis.update(data.get("diagnosis", {}))
        self.targets.update(data.get("targets", {}))
        for budget in data.get("mcu", []):
            self.add_mcu_budget(McuBudget.from_json(budget))
        for ref in data.get("references", []):
            self.add_reference(Reference(**ref))
        if data.get("machine"):
            self.workers[worker] = data["machine"]
        self.labels = self.labels or data.get("labels", "")
        for key, names in data.get("ran", {}).items():
            for name in names:
                self.add_ran(key, name)
