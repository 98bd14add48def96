"""Hooks only: options, report header, xdist result gathering and the end-of-run summary."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from collections import Counter
from pathlib import Path

import pytest

from ptq_helpers import cases, report, results, runtime, speed
from ptq_helpers.cases import Case
from ptq_helpers.assets import resolve_assets, resolve_cache_dir, writable_cache
from ptq_helpers.calibration import DEFAULT_PER_CLASS, DEFAULT_SEED, TRAIN_IMAGES_PER_CLASS
from ptq_helpers.errors import PTQError
from ptq_helpers.plugin_state import BENCH, DIAGNOSIS, EVENTS, META, RECORDS, REFERENCES, SETTINGS, SWEEP, THRESHOLDS
from ptq_helpers.store import Settings
from ptq_helpers.thresholds import SETTINGS as THRESHOLD_SETTINGS
from ptq_helpers.thresholds import resolve

pytest_plugins = ["fixtures.data", "fixtures.models"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("resnet8-ptq", "ResNet8 post-training quantization gate")
    group.addoption("--assets-dir", help="folder with cifar-10-batches-py/, mlperf-tiny/, resnet8.onnx "
                    "(default: $RESNET8_PTQ_ASSETS, then <cache>/assets, downloaded when missing)")
    group.addoption("--ptq-cache-dir", help="writable cache for downloads, built models and predictions "
                    "(default: $RESNET8_PTQ_CACHE, then the user cache folder, e.g. ~/.cache/resnet8-ptq)")
    group.addoption("--ptq-rebuild", action="store_true", help="rebuild every model and prediction this run")
    group.addoption("--ptq-matrix", choices=("seed", "full"),
                    help="which configurations to build: the five seed models (default) or the full matrix")
    group.addoption("--ptq-sweep", type=int, nargs="?", const=5, default=0, metavar="K",
                    help="also run the slow calibration-draw sweep: K independent calibration draws per quantized "
                    "model (K defaults to 5)")
    group.addoption("--ptq-seed", type=int, help=f"calibration draw seed (default {DEFAULT_SEED})")
    group.addoption("--ptq-calibration-per-class", type=int,
                    help=f"calibration images per class from the training split (default {DEFAULT_PER_CLASS})")
    group.addoption("--ptq-threads", type=int, help="threads per process for ONNX Runtime and torch "
                    "(default: physical cores divided by the number of xdist workers)")
    group.addoption("--ptq-json", metavar="PATH", help="write all results as JSON to PATH")
    group.addoption("--ptq-report", metavar="PATH", help="write the analysis report (Markdown, PNG figures beside it)")
    for name, (ini_key, flag, help_text) in THRESHOLD_SETTINGS.items():
        group.addoption(flag, dest=f"ptq_th_{name}", metavar="N", help=help_text)
        parser.addini(ini_key, help_text)
    parser.addini("ptq_matrix", "seed (default) or full")
    parser.addini("ptq_seed", f"calibration draw seed (default {DEFAULT_SEED})")
    parser.addini("ptq_calibration_per_class", f"calibration images per class (default {DEFAULT_PER_CLASS})")


def _int_setting(config: pytest.Config, option: str, ini: str, default: int) -> int:
    value = config.getoption(option)
    if value is not None:
        return int(value)
    raw = config.getini(ini)
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        raise pytest.UsageError(f"[tool.pytest.ini_options] {ini} = {raw!r} is not an integer") from None


def _xdist_workers(config: pytest.Config) -> int:
    """Workers this (controller) process will start; xdist has resolved "auto" to a number by now."""
    n = getattr(config.option, "numprocesses", None)
    return n if isinstance(n, int) and n > 0 else 1


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    try:
        thresholds = resolve(
            {name: config.getoption(f"ptq_th_{name}") for name in THRESHOLD_SETTINGS},
            {name: config.getini(ini) for name, (ini, _, _) in THRESHOLD_SETTINGS.items()},
        )
        requested = resolve_cache_dir(config.getoption("ptq_cache_dir"))
        assets = resolve_assets(config.getoption("assets_dir"), requested)  # may read a read-only cache
        cache, cache_note = writable_cache(requested)
    except PTQError as exc:
        raise pytest.UsageError(str(exc)) from None
    seed = _int_setting(config, "ptq_seed", "ptq_seed", DEFAULT_SEED)
    per_class = _int_setting(config, "ptq_calibration_per_class", "ptq_calibration_per_class", DEFAULT_PER_CLASS)
    matrix = config.getoption("ptq_matrix") or config.getini("ptq_matrix") or "seed"
    if matrix not in ("seed", "full"):
        raise pytest.UsageError(f"[tool.pytest.ini_options] ptq_matrix = {matrix!r}: use 'seed' or 'full'")
    sweep = config.getoption("ptq_sweep")
    if sweep < 0 or sweep == 1:
        raise pytest.UsageError(f"--ptq-sweep={sweep}: give at least 2 draws (default 5), or leave it out")
    if not 0 <= seed < 2**32:
        raise pytest.UsageError(f"--ptq-seed={seed}: must be between 0 and 2**32 - 1 (numpy's legacy seed range)")
    if not 1 <= per_class <= TRAIN_IMAGES_PER_CLASS:
        raise pytest.UsageError(f"--ptq-calibration-per-class={per_class}: must be between 1 and "
                                f"{TRAIN_IMAGES_PER_CLASS} (training images per CIFAR-10 class)")
    threads = config.getoption("ptq_threads")
    if threads is not None and threads < 1:
        raise pytest.UsageError(f"--ptq-threads={threads}: must be at least 1")
    workers = workerinput["workercount"] if workerinput else _xdist_workers(config)
    config.stash[THRESHOLDS] = thresholds
    config.stash[SETTINGS] = Settings(
        assets=replace(assets, cache=cache), cache=cache, threads=threads or runtime.default_threads(workers),
        seed=seed, per_class=per_class, matrix=matrix, sweep_draws=sweep, cache_note=cache_note, rebuild=config.getoption("ptq_rebuild"),
        run_id=workerinput["testrunuid"] if workerinput else uuid.uuid4().hex,
    )
    config.stash[RECORDS] = {}
    config.stash[EVENTS] = []
    config.stash[META] = {}
    config.stash[BENCH] = {}
    config.stash[SWEEP] = {}
    config.stash[DIAGNOSIS] = {}
    config.stash[REFERENCES] = {}


def _in_run(item: pytest.Item, selected: set[str], bench_only: bool, sweep: bool, full: bool) -> bool:
    if bench_only and "benchmark" not in getattr(item, "fixturenames", ()):
        return False
    if item.get_closest_marker("slow") and not sweep:
        return False
    if item.get_closest_marker("full_matrix") and not full:
        return False
    params = getattr(getattr(item, "callspec", None), "params", {})
    return all(p.id in selected for p in params.values() if isinstance(p, Case))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) cases outside --ptq-matrix, full-matrix-only tests, slow sweeps without
    --ptq-sweep, and with --benchmark-only the non-benchmarks."""
    settings = config.stash[SETTINGS]
    selected = {c.id for c in cases.selected(settings.matrix)}
    bench_only = config.getoption("benchmark_only", False)
    keep = [item for item in items
            if _in_run(item, selected, bench_only, settings.sweep_draws > 0, settings.matrix == "full")]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> list[str]:
    s, th = config.stash[SETTINGS], config.stash[THRESHOLDS]
    v = runtime.versions()
    return [
        "resnet8-ptq: " + ", ".join(f"{k} {v[k]}" for k in ("onnxruntime", "torch", "onnx2torch", "onnx", "numpy")),
        f"resnet8-ptq: assets {s.assets.root} (from {s.assets.source}); cache {s.cache}"
        + (f" ({s.cache_note})" if s.cache_note else ""),
        f"resnet8-ptq: matrix {s.matrix} ({len(cases.selected(s.matrix))} configurations); calibration seed "
        f"{s.seed}, {s.per_class}/class from train; threads {s.threads}/test process; "
        f"CPU {runtime.cpu_name()}",
        "resnet8-ptq: thresholds " + ", ".join(f"{k}={val}" for k, val in th.__dict__.items()),
    ]


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workeroutput"):  # xdist worker: ship results to the controller
        config.workeroutput["ptq"] = json.dumps(
            {"records": config.stash[RECORDS], "events": config.stash[EVENTS], "meta": config.stash[META],
             "bench": config.stash[BENCH], "sweep": config.stash[SWEEP], "diagnosis": config.stash[DIAGNOSIS],
             "references": config.stash[REFERENCES]}
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 - xdist hook
    data = json.loads(getattr(node, "workeroutput", {}).get("ptq", "{}") or "{}")
    node.config.stash[RECORDS].update(data.get("records", {}))
    node.config.stash[META].update(data.get("meta", {}))
    node.config.stash[SWEEP].update(data.get("sweep", {}))
    node.config.stash[DIAGNOSIS].update(data.get("diagnosis", {}))
    node.config.stash[REFERENCES].update(data.get("references", {}))
    for case_id, figures in data.get("bench", {}).items():
        node.config.stash[BENCH].setdefault(case_id, {}).update(figures)
    worker = node.gateway.id
    node.config.stash[EVENTS].extend({**e, "worker": worker} for e in data.get("events", []))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    if hasattr(config, "workerinput"):
        return
    records, th, s, bench = config.stash[RECORDS], config.stash[THRESHOLDS], config.stash[SETTINGS], config.stash[BENCH]
    tr = terminalreporter
    if records:
        tr.write_sep("=", "resnet8-ptq results (10,000 CIFAR-10 test images)")
        for line in results.table(records, th):
            tr.write_line(line)
        for ref in config.stash[REFERENCES].values():
            tr.write_line(f"reference {ref['id']}: {ref['accuracy']:.2f}% ({ref['correct']}/{ref['total']}), "
                          f"{ref['size_bytes'] / 1024:.1f} KiB - {ref['note']}")
        odd = results.suspicious(records)
        for line in odd["models"]:
            tr.write_line(f"SUSPICIOUS: {line}: a setting that should change the model had no effect")
        for line in odd["predictions"]:
            tr.write_line(f"NOTE: {line}")
        paired = results.stats_rows(records)
        if paired:
            tr.write_sep("-", "paired statistics vs fp32 on the same 10,000 images (bootstrap: 2,000 resamples)")
            for line in results.aligned(results.STATS_HEADERS, paired):
                tr.write_line(line)
    sweep = config.stash[SWEEP]
    if sweep:
        draws = max(sw["draws"] for sw in sweep.values())
        tr.write_sep("-", f"calibration-draw sweep ({draws} draws of {s.per_class}/class, seed {s.seed} stream)")
        for line in results.aligned(results.SWEEP_HEADERS, results.sweep_rows(sweep)):
            tr.write_line(line)
    if bench:
        tr.write_sep("-", f"resnet8-ptq speed ({runtime.cpu_name()}, {s.threads} threads, medians)")
        for line in results.aligned(speed.HEADERS, speed.rows(bench)):
            tr.write_line(line)
        ref = bench.get("ort-fp32", {}).get(str(speed.THROUGHPUT_BATCH))
        if ref:
            tr.write_line(f"benchmark overhead: ort-fp32 batch {speed.THROUGHPUT_BATCH} median {ref['median_ms']:.2f} ms "
                          f"vs bare session.run loop {ref['bare_loop_median_ms']:.2f} ms ({ref['overhead_pct']:+.1f}%)")
    if records or bench:
        built = Counter(f"{e['case']} {e['what']}" for e in config.stash[EVENTS] if e["built"])
        done = ", ".join(f"{k} x{n}" for k, n in sorted(built.items())) or "nothing (all reused from the cache)"
        tr.write_line(f"built this run: {done}; cache {s.cache}")
    json_path, report_path = config.getoption("ptq_json"), config.getoption("ptq_report")
    if json_path or report_path:
        meta = {"versions": runtime.versions(), "cpu": runtime.cpu_name(), "threads": s.threads,
                "calibration": {"seed": s.seed, "per_class": s.per_class, "split": "train"}, **config.stash[META]}
        # Round-trip through JSON so the report sees exactly what `python -m ptq_helpers.report` would.
        payload = results.payload(records, th, meta, bench, sweep, config.stash[DIAGNOSIS], config.stash[REFERENCES])
        data = json.loads(json.dumps(payload))
        if json_path:
            results.write_json(Path(json_path), data)
            tr.write_line(f"results written to {json_path}")
        if report_path:
            written = report.write(data, Path(report_path))
            tr.write_line(f"report written to {', '.join(map(str, written))}")
