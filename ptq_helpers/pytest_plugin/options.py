"""The suite's option tables: thresholds and run settings (flag, ini key, parser, default, help), and the
parsers of the command-line-only options; validation happens once, in the parsers."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from ptq_helpers.core.errors import ConfigError
from ptq_helpers.core.runtime import available_cores
from ptq_helpers.data.calibration import DEFAULT_PER_CLASS, DEFAULT_SEED, TRAIN_IMAGES_PER_CLASS
from ptq_helpers.matrix.options import INI_SOURCE, Option, add_options, count_in, number_in, one_of, resolve
from ptq_helpers.matrix.settings import Settings
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.results.json_io import load
from ptq_helpers.targets.base import parse_targets

__all__ = ["INI_SOURCE", "RUN_OPTIONS", "THRESHOLD_OPTIONS", "Option", "Settings", "Thresholds", "add_options",
           "baseline_file", "model_file", "resolve", "sweep_draws", "thresholds"]


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

    if os.environ.get("PYTEST_XDIST_WORKER"):  # only the controller compares
        return Path(raw), None
    try:
        return Path(raw), load(Path(raw))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def thresholds(cli: Callable[[str], Any], ini: Callable[[str], Any]) -> Thresholds:
    values = resolve(THRESHOLD_OPTIONS, cli, ini)
    return Thresholds(**{f.name: values[f.name] for f in fields(Thresholds)})


