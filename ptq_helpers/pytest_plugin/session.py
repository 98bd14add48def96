"""PTQSession: one object per pytest run holding settings, thresholds and results; the plugin's hooks
delegate to it (the shape of pytest-benchmark's BenchmarkSession)."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from ptq_helpers import compare
from ptq_helpers.analysis.gates import GATE_TESTS
from ptq_helpers.core import runtime
from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin import outputs, terminal
from ptq_helpers.report import payload as results
from ptq_helpers.data.assets import Assets, resolve_assets, resolve_cache_dir, writable_cache
from ptq_helpers.data.input_contract import ContractOptions, InputContract
from ptq_helpers.matrix.cases import Build, Case
from ptq_helpers.core.errors import ConfigError, PTQError
from ptq_helpers.core.isa import cpu_facts, machine, summary
from ptq_helpers.core.progress import Progress
from ptq_helpers.results.run_results import RunResults
from ptq_helpers.targets.registry import TARGETS
from ptq_helpers.store import library_versions
from ptq_helpers.pytest_plugin.size import run_steps
from ptq_helpers.pytest_plugin.options import (
    BASELINE_OPTIONS,
    RUN_OPTIONS,
    Settings,
    Thresholds,
    resolve,
    thresholds,
)
from ptq_helpers.pytest_plugin import run_info, verdicts
from ptq_helpers.pytest_plugin.model_check import inspect_model

_KEY = pytest.StashKey["PTQSession"]()
EXPORT_KEY = "resnet8_ptq"  # xdist workeroutput key


def _cases_of(item: pytest.Item) -> list[Case]:
    """The matrix cases a test item is parametrized with."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return [p.case if isinstance(p, Build) else p for p in params.values() if isinstance(p, Case | Build)]


def session_of(config: pytest.Config) -> PTQSession:
    return config.stash[_KEY]


def _xdist_workers(config: pytest.Config) -> int:
    """Workers this (controller) process will start; xdist has resolved "auto" to a number by now."""
    n = getattr(config.option, "numprocesses", None)
    return n if isinstance(n, int) and n > 0 else 1


def _controller_run_id(config: pytest.Config) -> str:
    """The run's id, handed to xdist (--testrunuid) so that its workers share it with this process."""
    if getattr(config.option, "testrunuid", None) is None and hasattr(config.option, "testrunuid"):
        config.option.testrunuid = uuid.uuid4().hex
    return getattr(config.option, "testrunuid", None) or uuid.uuid4().hex


@dataclass
class PTQSession:
    settings: Settings
    thresholds: Thresholds
    json_path: Path | None = None
    report_path: Path | None = None
    results: RunResults = field(default_factory=RunResults)
    progress: Progress | None = None
    mixed: list[str] = field(default_factory=list)  # on the controller: kinds of CPU the workers ran on, if >1
    baseline: tuple[Path, Any] | None = None  # --ptq-baseline: (path, its results)
    closing: list[str] = field(default_factory=list)  # lines for the end of the terminal summary
    under_xdist: bool = False  # a worker, or a controller with -n: benchmarks cannot time, so they are left out
    size_search: dict[str, Any] | None = None  # --ptq-search=size / --ptq-size-recipe: the recipe and the search
    limits: compare.Limits = field(default_factory=compare.Limits)  # --ptq-baseline's limits
    config: Any = field(default=None, repr=False)
    started: float = field(default_factory=time.time)
    _provenance: dict[str, Any] | None = field(default=None, repr=False)
    run_cases: tuple[Case, ...] = ()  # the cases the run steps added to this run (the catalog is left as it is)
    run_options: dict[str, Any] = field(default_factory=dict)  # what the run steps are given

    @classmethod
    def configure(cls, config: pytest.Config) -> PTQSession:
        """Resolve every setting (usage error on a bad one) and stash the session on the config."""
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        model = config.getoption("ptq_model")
        suite = Path(__file__).resolve().parents[2]
        if config.inipath is None and (suite / "pyproject.toml").is_file() and \
                Path(config.invocation_params.dir).resolve() == suite:
            taken = [a for a in map(str, config.invocation_params.args) if not a.startswith("-") and Path(a).exists()]
            raise pytest.UsageError(
                f"pytest chose {config.rootpath} as the rootdir because it read {', '.join(taken) or 'a path'} "
                f"(an option's value) as a test path, so the suite's settings (pyproject.toml) were not read; write "
                f"path options with '=' (e.g. --ptq-model=PATH, --ptq-json=PATH) or add --rootdir={suite}")
        source = run_info.ini_source(config)
        try:
            th = thresholds(config.getoption, config.getini, source)
            run = resolve(RUN_OPTIONS, config.getoption, config.getini, source)
            backend = resolve(cases.options(), config.getoption, config.getini, source)
            limits = run_info.baseline_limits(resolve(BASELINE_OPTIONS, config.getoption, config.getini, source))
            requested = resolve_cache_dir(config.getoption("ptq_cache_dir"))
            assets = resolve_assets(config.getoption("assets_dir"), requested)  # may read a read-only cache
            cache, cache_note = writable_cache(requested)
            options = ContractOptions(run["input_layout"], run["input_scale"], run["input_mean"], run["input_std"])
            assets = replace(assets, cache=cache, model=model, contract=options)
            reference, contract, conversion = inspect_model(assets, cache)
        except PTQError as exc:
            raise pytest.UsageError(str(exc)) from None
        if not reference and config.getoption("ptq_fp32_correct") is None:
            th = replace(th, fp32_correct=None)  # the ini's pin is the reference model's; pin yours on the command line
        workers = workerinput["workercount"] if workerinput else _xdist_workers(config)
        settings = Settings(
            assets=assets, cache=cache, reference=reference, threads=run["threads"] or runtime.default_threads(workers),
            seed=run["seed"], per_class=run["per_class"], matrix=run["matrix"], targets=run["targets"],
            backend=backend, contract=contract, conversion=conversion,
            sweep_draws=config.getoption("ptq_sweep"), recipe_draws=config.getoption("ptq_recipe_draws"),
            cache_note=cache_note, rebuild=config.getoption("ptq_rebuild"),
            run_id=workerinput["testrunuid"] if workerinput else _controller_run_id(config),
        )
        paths = [config.getoption(o) for o in ("ptq_json", "ptq_report")]
        clash = outputs.distinct(*paths)
        if clash:
            raise pytest.UsageError(clash)
        session = cls(settings, th, *paths, baseline=config.getoption("ptq_baseline"),
                      under_xdist=bool(workerinput) or getattr(config.option, "dist", "no") != "no", limits=limits,
                      config=config)
        if not workerinput and getattr(config.option, "dist", "no") == "load" and not any(
                a.startswith("--dist") or a == "-d" for a in config.invocation_params.args):
            config.option.dist = "loadgroup"  # -n without --dist: schedule by model (see deselect)
        session.run_options = run
        session.progress = Progress(config, cache / "progress", settings.run_id)
        session.progress.start(xdist_controller=not workerinput and getattr(config.option, "dist", "no") != "no")
        config.stash[_KEY] = session
        return session

    # --- collection -------------------------------------------------------------------------------
    def in_run(self, item: pytest.Item, bench_only: bool) -> bool:
        """Whether an item belongs to this run's matrix, markers and --benchmark-only selection."""
        timed = "benchmark" in getattr(item, "fixturenames", ()) or bool(item.get_closest_marker("speed"))
        if (bench_only and not timed) or (timed and self.under_xdist):  # pytest-benchmark is off under xdist
            return False
        if item.get_closest_marker("speed") and (self.thresholds.min_speedup is None or not self.times(item.config)):
            return False  # the opt-in speed gate: only with --ptq-min-speedup, in a run that times
        if item.get_closest_marker("slow") and not self.settings.sweep_draws:
            return False
        if item.get_closest_marker("recipe") and not self.settings.recipe_draws:
            return False
        if item.get_closest_marker("full_matrix") and self.settings.matrix != "full":
            return False
        if item.get_closest_marker("mcu") and "mcu" not in self.settings.targets:
            return False
        selected = {c.id for c in self.cases()}
        chosen = _cases_of(item)
        return all(c.id in selected for c in chosen)

    @staticmethod
    def times(config: pytest.Config) -> bool:
        """Whether this run times models (pytest-benchmark on: no --benchmark-skip or --benchmark-disable)."""
        return not (config.getoption("benchmark_skip", False) or config.getoption("benchmark_disable", False))

    def run_steps(self) -> None:
        """The steps the registered frameworks declare (e.g. the size search), when the session starts: they may
        build models, and add cases to this run."""
        try:
            self.size_search, self.run_cases = run_steps(self.settings, self.thresholds, self.run_options)
        except PTQError as exc:
            raise pytest.UsageError(f"--ptq-search / --ptq-size-recipe: {exc}") from None

    def cases(self) -> tuple[Case, ...]:
        """The cases of this run: its matrix, and what its run steps added."""
        return (*cases.selected(self.settings.matrix), *self.run_cases)

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        """One test per case (and target) of the matrix, for each model fixture the test asks for."""
        from ptq_helpers.pytest_plugin.parametrize import PARAMETRIZED

        for name, (params, scope) in PARAMETRIZED.items():
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, params(self.settings.targets, self.run_cases), indirect=True, ids=str,
                                     scope=scope)

    def deselect(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Deselect (not skip) what is outside the run."""
        bench_only = config.getoption("benchmark_only", False)
        keep = [item for item in items if self.in_run(item, bench_only)]
        if len(keep) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in keep])
            items[:] = keep
        for item in items if config.pluginmanager.hasplugin("xdist") else ():  # one worker per model (loadgroup):
            chosen = _cases_of(item)  # no two workers wait on one build's lock
            if chosen:
                item.add_marker(pytest.mark.xdist_group(chosen[0].id))

    # --- display ----------------------------------------------------------------------------------
    def header(self) -> list[str]:
        s, v = self.settings, library_versions()
        return [
            "resnet8-ptq: " + ", ".join(f"{k} {v[k]}" for k in ("numpy", *cases.libraries("seed")) if k in v),
            f"resnet8-ptq: assets {s.assets.root} (from {s.assets.source}); cache {s.cache}"
            + (f" ({s.cache_note})" if s.cache_note else ""),
            *([f"resnet8-ptq: model {s.assets.model} (--ptq-model): " + (
                "the reference ResNet8 weights" if s.reference else "NOT the reference ResNet8 (its weights differ): "
                "no fp32 pin; each framework's measured fp32 is its baseline")] if s.assets.model else []),
            f"resnet8-ptq: input contract: {s.contract.describe()}",
            *([f"resnet8-ptq: {s.assets.model.name} -> ONNX ({s.conversion['converter']}): top-1 differs on "
               f"{s.conversion['top1_disagree']} of {s.conversion['images']:,} test images (at most "
               f"{s.conversion['allowed']}), max |difference| {s.conversion['max_abs_diff']:.2g}"]
              if s.conversion and s.assets.model else []),
            f"resnet8-ptq: matrix {s.matrix} ({len(self.cases())} configurations); calibration seed "
            f"{s.seed}, {s.per_class}/class from train; threads {s.threads}/test process; CPU {runtime.cpu_name()}",
            "resnet8-ptq: thresholds " + ", ".join(f"{k}={'off' if val is None else val}"
                                                   for k, val in self.thresholds.to_json().items()),
            *(["resnet8-ptq: benchmarks: off under -n (pytest-xdist); time them with pytest --benchmark-only"]
              if self.under_xdist else []),
            "resnet8-ptq: targets " + "; ".join(
                f"host = {summary(cpu_facts())}" if name == "host" else f"{name} = {TARGETS[name].here()}"
                for name in s.targets),
        ]

    def terminal_summary(self, tr: Any) -> None:
        """The results, statistics, sweep and speed tables; then the JSON and report files (terminal.py)."""
        terminal.write(self, tr)

    @staticmethod
    def cpu_noops() -> list[dict[str, Any]]:
        """The frameworks' settings that are no-ops on this CPU (identical outputs for them are expected)."""
        return cases.noops_on(cpu_facts().get("flags") or {})

    def payload(self) -> dict[str, Any]:
        """The JSON data, round-tripped so the report sees exactly what `python -m ptq_helpers.report` would."""
        s = self.settings
        self.results.order = (tuple(c.id for c in (*cases.CASES, *self.run_cases)), tuple(TARGETS))
        meta = {"provenance": self.provenance(), "matrix": s.matrix, "targets_run": list(s.targets),
                "model": {"source": str(s.assets.model) if s.assets.model else "the reference resnet8.onnx",
                          "reference_weights": s.reference, "contract": s.contract.as_dict(),
                          "conversion": dict(s.conversion) if s.conversion else None},
                "cpu_noops": self.cpu_noops(), "versions": library_versions(), "cpu": runtime.cpu_name(),
                "threads": s.threads,
                "calibration": {"seed": s.seed, "per_class": s.per_class, "split": "train"},
                "workers": self.results.workers,
                "built": sorted({f"{e.case} {e.what}" for e in self.results.events if e.built}),
                "targets": {"host via the test process": {"how": "in the test process", "cpu": cpu_facts()},
                            **self.results.targets}}
        data = results.payload(self.results, self.thresholds, meta, self.results.ran or None)
        if self.size_search is not None:
            data["size_search"] = self.size_search
        return json.loads(json.dumps(data))

    def provenance(self) -> dict[str, Any]:
        """Which run this is, collected once (run_info)."""
        if self._provenance is None:
            self._provenance = run_info.collect(self.config, self.started, self.settings.threads)
        return run_info.with_benchmarks(self._provenance, self.config, bool(self.results.bench))

    # --- which gates ran -------------------------------------------------------------------------
    def note(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Record that a gate test ran (its call phase: passed, failed or xfailed) for its record key."""
        gate = GATE_TESTS.get(getattr(item, "originalname", item.name))
        if gate is None or report.when != "call" or (report.skipped and not hasattr(report, "wasxfail")):
            return
        params = getattr(getattr(item, "callspec", None), "params", {})
        for p in params.values():
            if isinstance(p, Build):
                self.results.add_ran(str(p), gate)

    def preflight(self, config: pytest.Config) -> None:
        """Before any test (on the controller): the real inputs are present, or fetched once now; when they
        cannot be, the run stops with one message naming the option or variable to fix, instead of every
        test failing with it."""
        if hasattr(config, "workerinput") or config.option.collectonly or "not real" in (config.option.markexpr or ""):
            return
        if config.rootpath != Path(__file__).resolve().parents[2]:  # not this suite (e.g. a pytester run)
            return
        try:
            self.settings.assets.cifar_dir()
            self.settings.assets.onnx_model()
        except PTQError as exc:
            raise pytest.UsageError(f"resnet8-ptq: {exc}") from None

    def _conclude(self) -> bool:
        """On the controller: compare with --ptq-baseline and write the outputs; False when the run must fail."""
        ok = True
        if self.baseline is not None or self.json_path or self.report_path:
            data = self.payload()
            if self.baseline is not None:
                path, old = self.baseline
                try:  # read when parsed, unless PYTEST_XDIST_WORKER was set there (a run started by a worker)
                    old = compare.load(path, "--ptq-baseline") if old is None else old
                except PTQError as exc:
                    verdicts.fail_item(self.config, "baseline", str(exc))
                    self.closing.append(str(exc))
                    return False
                found = compare.compare_runs(old, data, self.limits)
                self.closing += verdicts.baseline_lines(self.baseline[0], found)
                for v in found.regressions:
                    verdicts.fail_item(self.config, f"baseline[{v.key or 'environment'}]", v.line())
                ok = not found.regressions
            lines, written = outputs.write_all(data, self.json_path, self.report_path)
            self.closing += lines
            for line in lines if not written else ():
                if line.startswith("--ptq-"):
                    verdicts.fail_item(self.config, f"outputs[{line.split(':')[0]}]", line)
            ok = ok and written
        return ok

    # --- xdist ------------------------------------------------------------------------------------
    def export(self, config: pytest.Config) -> None:
        """On an xdist worker: hand this process's results (and which machine made them) to the controller."""
        if self.progress:
            self.progress.stop()
        if hasattr(config, "workeroutput"):
            self.results.machine = machine()
            config.workeroutput[EXPORT_KEY] = self.results.export()

    def finish(self, session: pytest.Session) -> None:
        """Export (on a worker); on the controller, results gathered from workers on different kinds of CPU are
        not one gate (fp32 and its quantized builds may have run on different kernels): the run fails and says
        how to split it."""
        self.export(session.config)
        if hasattr(session.config, "workerinput"):
            return
        self.mixed = self.results.mixed_machines()
        if self.mixed:
            verdicts.fail_item(self.config, "machines", "the xdist workers ran on different kinds of CPU: "
                               + "; ".join(self.mixed))
        if (not self._conclude() or self.mixed) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def merge(self, node: Any) -> None:
        """On the controller: fold in what a finished worker measured."""
        self.results.merge(getattr(node, "workeroutput", {}).get(EXPORT_KEY, ""), node.gateway.id)
