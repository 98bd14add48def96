"""Every option of the suite in one table: flag, ini key, parser (validation happens once, in the parser),
default and help; the resolved Thresholds and Settings of a run."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ptq_helpers.assets import Assets
from ptq_helpers.calibration import DEFAULT_PER_CLASS, DEFAULT_SEED, TRAIN_IMAGES_PER_CLASS
from ptq_helpers.errors import ConfigError
from ptq_helpers.runtime import available_cores
from ptq_helpers.targets import parse_targets

Parse = Callable[[str], Any]
INI_SOURCE = "[tool.pytest.ini_options]"


def number_in(lo: float, hi: float, kind: type = float, why: str = "") -> Parse:
    """Parser of a number of `kind` within [lo, hi] (argparse `type=`; also applied to ini values)."""
    def parse(raw: str) -> float | int:
        try:
            value = kind(str(raw).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number; give e.g. {kind(hi)!r}") from None
        if not lo <= value <= hi:
            bounds = f"outside {lo:g}..{hi:g}; give a value in that range" if not why else \
                f"not between {lo} and {hi} ({why})"
            raise argparse.ArgumentTypeError(f"{value} is {bounds}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def count_in(lo: int, hi: int, why: str) -> Parse:
    """Parser of an integer within [lo, hi]; `why` explains the bounds."""
    return number_in(lo, hi, int, why)


def one_of(*choices: str) -> Parse:
    """Parser of one word among `choices`."""
    def parse(raw: str) -> str:
        value = str(raw).strip()
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(choices)}")
        return value
    parse.__name__ = "choice"
    return parse


def sweep_draws(raw: str) -> int:
    """Draws of the calibration sweep: at least 2 (0 = off)."""
    value = count_in(0, 1000, "calibration draws")(raw)
    if value == 1:
        raise argparse.ArgumentTypeError("1 draw has no spread; give at least 2 draws (default 5), or leave it out")
    return value


def model_file(raw: str) -> Path:
    """argparse `type=` for --ptq-model: an existing .onnx or Keras .h5 file."""
    path = Path(raw).expanduser().absolute()
    if path.suffix not in (".onnx", ".h5"):
        raise argparse.ArgumentTypeError(f"{raw}: give an fp32 ResNet8 as .onnx (input 'input', float32 NHWC "
                                         f"(N,32,32,3) pixels 0..255, 10 probabilities out) or as a Keras .h5")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{raw}: no such file")
    return path


def baseline_file(raw: str) -> tuple[Path, Any]:
    """argparse `type=` for --ptq-baseline: a readable resnet8-ptq results file, loaded once."""
    import os

    from ptq_helpers.compare import load

    if os.environ.get("PYTEST_XDIST_WORKER"):  # only the controller compares
        return Path(raw), None
    try:
        return Path(raw), load(Path(raw))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True)
class Option:
    """One setting: command-line flag, ini key (None: command line only), parser, default and help."""

    dest: str
    flag: str
    ini: str | None
    parse: Parse
    default: Any
    help: str
    metavar: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """Gate limits, in percent (points for drops), plus the pinned fp32 baseline."""

    min_accuracy: float = 85.0
    max_drop: float = 5.0
    min_size_reduction_onnx: float = 55.0
    min_size_reduction_torch: float = 45.0
    max_class_drop: float = 10.0
    fp32_correct: int | None = 8719  # None: the gated model is not the reference ResNet8, so no pin applies
    gate_margin: str = "point"  # "ci": gate the one-sided 95% bounds (Clopper–Pearson top-1, paired bootstrap drops)
    min_size_reduction_tflite: float = 55.0
    max_sram_kib: float = 64.0  # Ethos-U55 (Vela estimate)
    max_flash_kib: float = 128.0
    max_npu_fallback_ops: int = 0
    max_arena_kib: float = 64.0  # TFLM tensor arena

    def min_size_reduction(self, kind: str) -> float:
        """The limit for a framework's size threshold kind ('onnx', 'torch' or 'tflite', see cases.Framework)."""
        return getattr(self, f"min_size_reduction_{kind}")


_PERCENT = _POINTS = number_in(0, 100)
THRESHOLD_OPTIONS: tuple[Option, ...] = (
    Option("min_accuracy", "--ptq-min-accuracy", "ptq_min_accuracy", _PERCENT, 85.0,
           "every model's top-1 must exceed this (percent)", "N"),
    Option("max_drop", "--ptq-max-drop", "ptq_max_drop", _POINTS, 5.0,
           "quantized top-1 drop vs its framework's fp32 must stay below this (points)", "N"),
    Option("min_size_reduction_onnx", "--ptq-min-size-reduction-onnx", "ptq_min_size_reduction_onnx", _PERCENT, 55.0,
           "ONNX file size reduction vs fp32 must reach this (percent)", "N"),
    Option("min_size_reduction_torch", "--ptq-min-size-reduction-torch", "ptq_min_size_reduction_torch", _PERCENT,
           45.0, "TorchScript file size reduction vs fp32 must reach this (percent)", "N"),
    Option("min_size_reduction_tflite", "--ptq-min-size-reduction-tflite", "ptq_min_size_reduction_tflite",
           _PERCENT, 55.0, "TFLite file size reduction vs the float .tflite must reach this (percent)", "N"),
    Option("max_class_drop", "--ptq-max-class-drop", "ptq_max_class_drop", _POINTS, 10.0,
           "no class may lose more than this many points vs fp32", "N"),
    Option("fp32_correct", "--ptq-fp32-correct", "ptq_fp32_correct", number_in(0, 10_000, int), 8719,
           "pinned number of correct fp32 predictions out of 10,000", "N"),
    Option("gate_margin", "--ptq-gate-margin", "ptq_gate_margin", one_of("point", "ci"), "point",
           "'point' gates the measured values; 'ci' gates their one-sided 95% bounds: the Clopper-Pearson lower "
           "bound of top-1, and the paired-bootstrap upper bounds of the drop and of each class's drop", "{point,ci}"),
    Option("max_sram_kib", "--ptq-max-sram-kib", "ptq_max_sram_kib", number_in(0, 1 << 20), 64.0,
           "Ethos-U55-128 SRAM (Vela estimate) of every int8 .tflite must not exceed this (KiB)", "N"),
    Option("max_flash_kib", "--ptq-max-flash-kib", "ptq_max_flash_kib", number_in(0, 1 << 20), 128.0,
           "Ethos-U55-128 off-chip flash (Vela estimate) must not exceed this (KiB)", "N"),
    Option("max_npu_fallback_ops", "--ptq-max-npu-fallback-ops", "ptq_max_npu_fallback_ops",
           count_in(0, 10_000, "operators"), 0, "operators Vela leaves to the CPU must not exceed this", "N"),
    Option("max_arena_kib", "--ptq-max-arena-kib", "ptq_max_arena_kib", number_in(0, 1 << 20), 64.0,
           "TFLM tensor arena of every int8 .tflite must not exceed this (KiB)", "N"),
)
RUN_OPTIONS: tuple[Option, ...] = (
    Option("matrix", "--ptq-matrix", "ptq_matrix", one_of("seed", "full"), "seed",
           "which configurations to build: the seed matrix or the full matrix", "{seed,full}"),
    Option("seed", "--ptq-seed", "ptq_seed", count_in(0, 2**32 - 1, "numpy's legacy seed range"), DEFAULT_SEED,
           "calibration draw seed", "N"),
    Option("per_class", "--ptq-calibration-per-class", "ptq_calibration_per_class",
           count_in(1, TRAIN_IMAGES_PER_CLASS, "training images per CIFAR-10 class"), DEFAULT_PER_CLASS,
           "calibration images per class from the training split", "N"),
    Option("threads", "--ptq-threads", None,
           count_in(1, available_cores(), f"this process may use {available_cores()} cores; more threads per "
                    "process only oversubscribe them"), None,
           "threads per process for ONNX Runtime, torch and OpenVINO (default: physical cores divided by the "
           "number of xdist workers)", "N"),
    Option("targets", "--ptq-targets", "ptq_targets", parse_targets, ("host",),
           "deployment targets every model is evaluated and gated on, comma-separated: host (this CPU), avx2 "
           "(an AVX2-only x86-64 CPU, emulated; needs qemu-user), mcu (TensorFlow Lite Micro's kernels; needs "
           "the mcu extra)", "host,avx2,mcu"),
    Option("ov_max_drop", "--ptq-ov-max-drop", "ptq_ov_max_drop", number_in(0, 100), 0.1,
           "max top-1 drop (points) NNCF's accuracy control may accept on its held-out training images "
           "(ov-int8-nncf-ac, full matrix)", "N"),
)


def add_options(options: tuple[Option, ...], group: Any, addini: Callable[..., None]) -> None:
    """Register options on a pytest option group, with their ini keys (types checked at parse time)."""
    for opt in options:
        default = opt.default if not isinstance(opt.default, tuple) else ",".join(opt.default)
        where = ("; " if opt.default is not None else " (") + (f"ini {opt.ini})" if opt.ini else "command line only)")
        said = f" (default {default}" + where if opt.default is not None else where
        group.addoption(opt.flag, dest=f"ptq_{opt.dest}", type=opt.parse, metavar=opt.metavar,
                        help=(opt.help + said).replace("%", "%%"))  # argparse %-formats help; ini help as is
        if opt.ini:
            addini(opt.ini, opt.help)


def resolve(options: tuple[Option, ...], cli: Callable[[str], Any], ini: Callable[[str], Any]) -> dict[str, Any]:
    """Command line (already parsed), else ini (parsed here by the same parser), else the default."""
    values: dict[str, Any] = {}
    for opt in options:
        value = cli(f"ptq_{opt.dest}")
        raw = ini(opt.ini) if value is None and opt.ini else None
        if value is None and raw not in (None, ""):
            try:
                value = opt.parse(raw)
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"{INI_SOURCE} {opt.ini}: {exc}") from None
        values[opt.dest] = opt.default if value is None else value
    return values


def thresholds(cli: Callable[[str], Any], ini: Callable[[str], Any]) -> Thresholds:
    values = resolve(THRESHOLD_OPTIONS, cli, ini)
    return Thresholds(**{f.name: values[f.name] for f in fields(Thresholds)})


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured with (from options, ini and environment)."""

    assets: Assets
    cache: Path
    threads: int
    seed: int = DEFAULT_SEED
    per_class: int = DEFAULT_PER_CLASS
    rebuild: bool = False
    matrix: str = "seed"
    sweep_draws: int = 0  # calibration-draw sweep size; 0 = off
    targets: tuple[str, ...] = ("host",)  # deployment targets (targets.TARGETS keys)
    ov_max_drop: float = 0.1  # points, NNCF accuracy control
    reference: bool = True  # the fp32 model's weights are MLPerf Tiny's ResNet8 (contract.REFERENCE_WEIGHTS_SHA256)
    run_id: str = "local"
    cache_note: str | None = None  # set when the requested cache was not writable
