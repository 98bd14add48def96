"""The suite's option tables: thresholds and run settings (flag, ini key, parser, default, help), and the
parsers of the command-line-only options; validation happens once, in the parsers."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import ptq_helpers.backends  # noqa: F401 - the catalog: registers the frameworks and the matrix
from ptq_helpers.core.errors import ConfigError
from ptq_helpers.core.runtime import available_cores
from ptq_helpers.data.calibration import DEFAULT_PER_CLASS, DEFAULT_SEED, TRAIN_IMAGES_PER_CLASS
from ptq_helpers.pytest_plugin.outputs import output_file
from ptq_helpers.matrix.options import (
    INI_SOURCE,
    Option,
    add_options,
    count_in,
    ini_source,
    number_in,
    one_of,
    resolve,
    yes_no,
)
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import SizeKind
from ptq_helpers.matrix.size_recipe import SizeRecipe
from ptq_helpers.matrix.size_recipe import load as load_size_recipe
from ptq_helpers.matrix.thresholds import SIZE_PREFIX, Thresholds
from ptq_helpers.results.json_io import load
from ptq_helpers.targets.registry import TARGETS, parse_targets

__all__ = ["BASELINE_OPTIONS", "INI_SOURCE", "RUN_OPTIONS", "THRESHOLD_OPTIONS", "Option", "Settings", "Thresholds",
           "add_options", "baseline_file", "model_file", "recipe_draws", "resolve", "size_options", "speedup_factor",
           "sweep_draws", "thresholds"]


def sweep_draws(raw: str) -> int:
    """Draws of the calibration sweep: at least 2 (0 = off)."""
    value = count_in(0, 1000, "calibration draws")(raw)
    if value == 1:
        raise argparse.ArgumentTypeError("1 draw has no spread; give at least 2 draws (default 5), or leave it out")
    return value


def recipe_draws(raw: str) -> int:
    """Draws of the recipe-level uncertainty: at least 2 besides draw 0 (0 = off)."""
    value = count_in(0, 1000, "calibration draws")(raw)
    if value == 1:
        raise argparse.ArgumentTypeError("1 draw has no spread; give at least 2 draws (default 10), or leave it out")
    return value


def model_file(raw: str) -> Path:
    """argparse `type=` for --ptq-model: an existing .onnx, Keras .h5 or torch.export .pt2 file."""
    path = Path(raw).expanduser().absolute()
    if path.suffix not in (".onnx", ".h5", ".pt2"):
        raise argparse.ArgumentTypeError(f"{raw}: give an fp32 CIFAR-10 ResNet8 as .onnx, as a Keras .h5 or as a "
                                         f"torch.export program (.pt2, torch.export.save); its input contract is "
                                         f"read from the model and the --ptq-input-* options")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{raw}: no such file")
    return path


def rgb_triple(raw: str) -> tuple[float, float, float]:
    """--ptq-input-mean/-std: three numbers R,G,B (a std must be above 0: the pixels are divided by it)."""
    parts = str(raw).replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{raw!r} is not three numbers R,G,B; give e.g. 0.4914,0.4822,0.4465")
    return values  # type: ignore[return-value]


def rgb_std(raw: str) -> tuple[float, float, float]:
    values = rgb_triple(raw)
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"{raw!r}: a standard deviation must be above 0 (the pixels are divided "
                                         f"by it); give e.g. 0.2470,0.2435,0.2616")
    return values


def input_scale(raw: str) -> float:
    value = number_in(0, 1e6)(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not above 0; give the factor pixels (0..255) are multiplied "
                                         f"by, e.g. 0.00392156862745098 (1/255) for inputs in 0..1")
    return value


def baseline_file(raw: str) -> tuple[Path, Any]:
    """argparse `type=` for --ptq-baseline: a readable resnet8-ptq results file, loaded once."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):  # only the controller compares
        return Path(raw), None
    try:
        return Path(raw), load(Path(raw))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def size_recipe_file(raw: str) -> SizeRecipe:
    """argparse `type=` for --ptq-size-recipe: a recipe file or an earlier results JSON holding one, read once."""
    try:
        return load_size_recipe(Path(raw).expanduser())
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--ptq-size-recipe ")) from None


def speedup_factor(raw: str) -> float:
    """--ptq-min-speedup: a factor above 0 (e.g. 1.5: each quantized build at least 1.5x its fp32's throughput)."""
    value = number_in(0, 1000)(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not above 0; give the least batch-256 speedup over the "
                                         "build's own fp32 as a factor above 0, e.g. 1.5 (or leave it out: no "
                                         "speed gate)")
    return value


def targets_list(raw: str) -> tuple[str, ...]:
    """--ptq-targets: comma-separated names of deployment targets."""
    return parse_targets(raw)


targets_list.range = "any of " + ", ".join(TARGETS)  # type: ignore[attr-defined]
input_scale.range = "above 0, at most 1000000"  # type: ignore[attr-defined]
speedup_factor.range = "above 0, at most 1000"  # type: ignore[attr-defined]
rgb_triple.range = "three finite numbers"  # type: ignore[attr-defined]
rgb_std.range = "three numbers above 0"  # type: ignore[attr-defined]

_PERCENT = _POINTS = number_in(0, 100)
THRESHOLD_OPTIONS: tuple[Option, ...] = (
    Option("min_accuracy", "--ptq-min-accuracy", "ptq_min_accuracy", _PERCENT, 85.0,
           "every model's top-1 must exceed this (percent)", "N"),
    Option("max_drop", "--ptq-max-drop", "ptq_max_drop", _POINTS, 5.0,
           "quantized top-1 drop vs its framework's fp32 must stay below this (points)", "N"),
    Option("max_class_drop", "--ptq-max-class-drop", "ptq_max_class_drop", _POINTS, 10.0,
           "no class may lose more than this many points vs fp32", "N"),
    Option("fp32_correct", "--ptq-fp32-correct", "ptq_fp32_correct", number_in(0, 10_000, int), 8719,
           "pinned number of correct fp32 predictions out of 10,000", "N"),
    Option("gate_margin", "--ptq-gate-margin", "ptq_gate_margin", one_of("point", "ci"), "point",
           "'point' gates the measured values; 'ci' gates their one-sided 95% bounds: the Clopper-Pearson lower "
           "bound of top-1, and the paired-bootstrap upper bounds of the drop and of each class's drop", "{point,ci}"),
    Option("executed_precision", "--ptq-executed-precision", "ptq_executed_precision", one_of("report", "fail"),
           "report", "what a quantized build whose runtime runs some Conv/Gemm/MatMul layers in float (asked of the "
           "runtime on this CPU) does: 'report' says so (an xfail naming the layers, the summary's Executed column, "
           "the report); 'fail' fails test_quantized_layers_run_as_integer and the build's gates", "{report,fail}"),
    Option("max_sram_kib", "--ptq-max-sram-kib", "ptq_max_sram_kib", number_in(0, 1 << 20), 64.0,
           "Ethos-U55-128 SRAM (Vela estimate) of every int8 .tflite must not exceed this (KiB)", "N"),
    Option("max_flash_kib", "--ptq-max-flash-kib", "ptq_max_flash_kib", number_in(0, 1 << 20), 128.0,
           "Ethos-U55-128 off-chip flash (Vela estimate) must not exceed this (KiB)", "N"),
    Option("max_npu_fallback_ops", "--ptq-max-npu-fallback-ops", "ptq_max_npu_fallback_ops",
           count_in(0, 10_000, "operators"), 0, "operators Vela leaves to the CPU must not exceed this", "N"),
    Option("max_arena_kib", "--ptq-max-arena-kib", "ptq_max_arena_kib", number_in(0, 1 << 20), 64.0,
           "TFLM tensor arena of every int8 .tflite must not exceed this (KiB)", "N"),
    Option("min_speedup", "--ptq-min-speedup", "ptq_min_speedup", speedup_factor, None,
           "opt-in speed gate of benchmark runs (no -n): every quantized build's batch-256 throughput over its own "
           "runtime's fp32 (paired median ratio, this CPU) must reach this factor (test_speedup; default off)", "X"),
)
RUN_OPTIONS: tuple[Option, ...] = (
    Option("matrix", "--ptq-matrix", "ptq_matrix", one_of(*cases.MATRICES), "seed",
           "which configurations to build: the seed matrix; 'mcu' adds the micro-controller builds beyond int8 "
           "(LiteRT 16x8, litert-quantizer's W8A8, ORT A16W8/W4A8 emulated on the host; gate them with "
           "--ptq-targets=host,mcu); 'fast' adds the fast integer builds that cost more than "
           "the seed gate's budget to build and evaluate cold (PyTorch PT2E compiled with Inductor, ExecuTorch "
           "XNNPACK); 'full' adds every configuration", "{" + ",".join(cases.MATRICES) + "}"),
    Option("seed", "--ptq-seed", "ptq_seed", count_in(0, 2**32 - 1, "numpy's legacy seed range"), DEFAULT_SEED,
           "calibration draw seed", "N"),
    Option("per_class", "--ptq-calibration-per-class", "ptq_calibration_per_class",
           count_in(1, TRAIN_IMAGES_PER_CLASS, "training images per CIFAR-10 class"), DEFAULT_PER_CLASS,
           "calibration images per class from the training split", "N"),
    Option("threads", "--ptq-threads", None,
           count_in(1, available_cores(), f"this process may use {available_cores()} cores; more threads per "
                    "process only oversubscribe them"), None,
           "threads per process for ONNX Runtime, torch and OpenVINO", "N",
           default_text="physical cores divided by the number of xdist workers"),
    Option("targets", "--ptq-targets", "ptq_targets", targets_list, ("host",),
           "deployment targets every model is evaluated and gated on, comma-separated: host (this CPU), avx2 "
           "(an AVX2-only x86-64 CPU: emulated with qemu-user, native on an AVX2-only host), mcu (TensorFlow Lite "
           "Micro's kernels; needs the mcu extra), arm64-a72 / arm64-n1 / arm64-max (Cortex-A72, Neoverse-N1, "
           "qemu's max without SME: ONNX Runtime and LiteRT under qemu-aarch64; needs qemu-user and python -m "
           "ptq_helpers.targets.arm_setup)", "T[,T...]"),
    # The model's input contract (data/input_contract.py): what the model says is read from it, the rest is set here.
    Option("input_layout", "--ptq-input-layout", "ptq_input_layout", one_of("auto", "nhwc", "nchw"), "auto",
           "the model's input layout: auto reads it from the input's shape ((N,32,32,3) NHWC or (N,3,32,32) NCHW); "
           "nhwc or nchw must match that shape, else the run stops before any test", "{auto,nhwc,nchw}"),
    Option("input_scale", "--ptq-input-scale", "ptq_input_scale", input_scale, 1.0,
           "the model takes pixels (0..255) times this, e.g. 0.00392156862745098 (1/255) for 0..1", "S"),
    Option("input_mean", "--ptq-input-mean", "ptq_input_mean", rgb_triple, (0.0, 0.0, 0.0),
           "per-channel mean subtracted after the scale (R,G,B), e.g. 0.4914,0.4822,0.4465", "R,G,B"),
    Option("input_std", "--ptq-input-std", "ptq_input_std", rgb_std, (1.0, 1.0, 1.0),
           "per-channel standard deviation divided by after the mean (R,G,B), e.g. 0.2470,0.2435,0.2616", "R,G,B"),
    Option("search", "--ptq-search", "ptq_search", one_of("off", "size"), "off",
           "'size': before the tests, find the smallest litert-quantizer build whose accuracy gates hold (per-layer "
           "4-bit sensitivity on training-split validation images, greedy choice on test half A, confirmed on half "
           "B; cached) and gate it as litert-size-search on every target of the run; its per-layer recipe goes to "
           "the JSON and the report", "{off,size}"),
    Option("size_recipe", "--ptq-size-recipe", None, size_recipe_file, None,
           "gate this per-layer recipe as litert-size-search without searching: a recipe file, or the --ptq-json "
           "of an earlier --ptq-search=size run", "FILE"),
)


# --ptq-baseline's limits (python -m ptq_helpers.compare's --max-accuracy-loss, ... as pytest options and ini keys).
BASELINE_OPTIONS: tuple[Option, ...] = (
    Option("max_accuracy_loss", "--ptq-max-accuracy-loss", "ptq_max_accuracy_loss", _POINTS, 0.5,
           "with --ptq-baseline: a model's top-1 may fall at most this many points below the baseline's", "POINTS"),
    Option("max_size_growth", "--ptq-max-size-growth", "ptq_max_size_growth", number_in(0, 1000), 5.0,
           "with --ptq-baseline: a model file may grow at most this much (percent)", "PCT"),
    Option("max_slowdown", "--ptq-max-slowdown", "ptq_max_slowdown", _PERCENT, 25.0,
           "with --ptq-baseline: batch-256 throughput may fall at most this much when both runs were "
           "benchmarked (percent)", "PCT"),
    Option("allow_missing", "--ptq-allow-missing", "ptq_allow_missing", yes_no, False,
           "with --ptq-baseline: a model of the baseline that this run did not measure (another matrix, targets "
           "or a -k subset) is not a regression", "{yes,no}"),
    Option("environment_change", "--ptq-environment-change", "ptq_environment_change", one_of("report", "fail"),
           "report", "with --ptq-baseline: an environment change (library versions, CPU or its flags, threads, "
           "platform) is reported, or fails the run", "{report,fail}"),
)

# `pytest --help` groups the options by concern; an option's group is looked up by its dest.
GROUPS = {
    "inputs": ("resnet8-ptq-inputs", "resnet8-ptq: inputs and cache"),
    "matrix": ("resnet8-ptq-matrix", "resnet8-ptq: matrix, targets and calibration"),
    "contract": ("resnet8-ptq-contract", "resnet8-ptq: your model's input contract (--ptq-model)"),
    "accuracy": ("resnet8-ptq-accuracy", "resnet8-ptq: accuracy and size gates"),
    "mcu": ("resnet8-ptq-mcu", "resnet8-ptq: micro-controller budgets (--ptq-targets=...,mcu)"),
    "speed": ("resnet8-ptq-speed", "resnet8-ptq: speed (benchmark runs, no -n)"),
    "outputs": ("resnet8-ptq-outputs", "resnet8-ptq: outputs and the baseline"),
    "frameworks": ("resnet8-ptq", "resnet8-ptq: framework settings"),
}
_GROUP_OF = {"matrix": "matrix", "seed": "matrix", "per_class": "matrix", "threads": "matrix", "targets": "matrix",
             "search": "matrix", "size_recipe": "matrix", "input_layout": "contract", "input_scale": "contract",
             "input_mean": "contract", "input_std": "contract", "max_sram_kib": "mcu", "max_flash_kib": "mcu",
             "max_npu_fallback_ops": "mcu", "max_arena_kib": "mcu", "min_speedup": "speed",
             **{o.dest: "outputs" for o in BASELINE_OPTIONS}}


def group_of(parser: Any, opt: Option | str) -> Any:
    """The help group of an option (by its dest; the accuracy gates by default, the size limits among them)."""
    dest = opt if isinstance(opt, str) else opt.dest
    name, title = GROUPS[_GROUP_OF.get(dest, "accuracy")]
    return parser.getgroup(name, title)


def size_option(kind: SizeKind) -> Option:
    """The size-reduction limit of one size kind, as an option (one per kind the registered frameworks use)."""
    return Option(SIZE_PREFIX + kind.name, kind.flag, f"ptq_{SIZE_PREFIX}{kind.name}", _PERCENT, kind.default,
                  f"{kind.label} size reduction vs fp32 must reach this (percent)", "N")


def size_options() -> tuple[Option, ...]:
    return tuple(size_option(kind) for kind in cases.SIZE_KINDS.values())


def thresholds(cli: Callable[[str], Any], ini: Callable[[str], Any],
               source: Callable[[str], str] = ini_source) -> Thresholds:
    values = resolve(THRESHOLD_OPTIONS, cli, ini, source)
    sizes = resolve(size_options(), cli, ini, source)
    return Thresholds(**{f.name: values[f.name] for f in fields(Thresholds) if f.name in values},
                      size_reductions={k.removeprefix(SIZE_PREFIX): v for k, v in sizes.items()})


def register(parser: Any) -> None:
    """Every option of the suite on pytest's parser: the command-line-only ones, the run and threshold tables,
    and what the registered frameworks and size kinds declare."""
    global _PARSER
    _PARSER, _ADDED[:] = parser, []
    inputs, matrix, outputs = (parser.getgroup(*GROUPS[g]) for g in ("inputs", "matrix", "outputs"))
    by_dest = lambda opt: group_of(parser, opt)  # noqa: E731
    inputs.addoption("--assets-dir", metavar="PATH", help="folder with cifar-10-batches-py/, mlperf-tiny/, "
                     "resnet8.onnx (default: $RESNET8_PTQ_ASSETS, then <cache>/assets, downloaded when missing)")
    inputs.addoption("--ptq-cache-dir", metavar="PATH", help="writable cache for downloads, built models and "
                     "predictions (default: $RESNET8_PTQ_CACHE, then the user cache folder, e.g. ~/.cache/resnet8-ptq)")
    inputs.addoption("--ptq-rebuild", action="store_true", help="rebuild every model and prediction this run")
    inputs.addoption("--ptq-model", metavar="PATH", type=model_file,
                     help="gate your own fp32 ResNet8 (.onnx, Keras .h5 or torch.export .pt2) instead of MLPerf's, "
                          "fed as --ptq-input-layout/-scale/-mean/-std say; when it is not the reference model the "
                          "fp32 pin is off and each framework's measured fp32 is its baseline (write it with '=')")
    matrix.addoption("--ptq-sweep", type=sweep_draws, nargs="?", const=5, default=0, metavar="K",
                     help="also run the slow calibration-draw sweep: K independent calibration draws per quantized "
                     "model (default off; given alone K is 5; 2..1000)")
    matrix.addoption("--ptq-recipe-draws", type=recipe_draws, nargs="?", const=10, default=0, metavar="K",
                     help="rebuild the recommended builds, each backend's best and every build within 0.5 point of "
                     "a gate on K more calibration draws and report mean, sd, worst draw and a two-level bootstrap "
                     "interval (draws x images) (default off; given alone K is 10; 2..1000)")
    add_options(RUN_OPTIONS, by_dest, parser.addini)
    outputs.addoption("--ptq-json", metavar="PATH", type=output_file(),
                      help="write all results as JSON to PATH (a new or regular file; write it with '=')")
    outputs.addoption("--ptq-report", metavar="PATH", type=output_file(report=True),
                      help="write the analysis report (Markdown, PNG figures beside it; write it with '=')")
    outputs.addoption("--ptq-baseline", metavar="OLD.json", type=baseline_file,
                      help="compare this run with an earlier --ptq-json file (what changed, flipped images, "
                           "verdicts with their cause); each regression is a failed test item; limits: "
                           "--ptq-max-accuracy-loss, --ptq-max-size-growth, --ptq-max-slowdown, --ptq-allow-missing, "
                           "--ptq-environment-change")
    add_options(BASELINE_OPTIONS, outputs, parser.addini)
    sizes = size_options()  # beside the other file-size limit, in the help's order
    add_options(THRESHOLD_OPTIONS[:2] + sizes + THRESHOLD_OPTIONS[2:], by_dest, parser.addini)
    _ADDED.extend(o.flag for o in sizes)
    register_new()


_PARSER: Any = None
_ADDED: list[str] = []  # flags added from the registry to _PARSER


def register_new() -> None:
    """Add the options of frameworks and size kinds registered since the parser was set up (a conftest may
    register a framework; pytest parses the command line after loading the root conftests)."""
    if _PARSER is None:
        return
    new = tuple(o for o in (*size_options(), *cases.options()) if o.flag not in _ADDED)
    if new:
        add_options(new, lambda o: group_of(_PARSER, o) if o.dest.startswith(SIZE_PREFIX) else
                    _PARSER.getgroup(*GROUPS["frameworks"]), _PARSER.addini)
        _ADDED.extend(o.flag for o in new)
