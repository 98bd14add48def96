"""LiteRT builds made with Google's `litert-quantizer` (PyPI `litert-quantizer`, the AI Edge Quantizer) from the
suite's own float `.tflite` (the `litert-fp32` file, converted from the .h5 by the same TFLiteConverter code).

The quantizer works on the flatbuffer: a static (full-integer) recipe with activation and weight bit widths,
per-channel or per-tensor weights, one of its algorithms (min-max, OCTAV, MSE, GPTQ, ...) and per-layer overrides
(later rules win, as in the quantizer's recipe). Calibration feeds the suite's calibration images one per step.
It runs in a child process (`python -m ptq_helpers.backends litert.quantizer`), like TFLiteConverter.

One graph fix after quantizing, `shape_reads_integer`: the Keras Flatten leaves a SHAPE op (for the batch size)
that the quantizer does not quantize, so it inserts a DEQUANTIZE before it; SHAPE reads only the shape, so the
fix feeds it the integer tensor and drops that DEQUANTIZE (the file is then integer end to end; values unchanged).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ptq_helpers.backends.litert import backend as litert
from ptq_helpers.core.errors import AssetError
from ptq_helpers.matrix.cases import Case, Format, Framework

# litert-quantizer 0.11's AlgorithmName values for uniform quantization (the keys of its algorithm modules)
ALGORITHMS = ("min_max_uniform_quantize", "OCTAV", "MSE", "GPTQ", "OSCAR", "dequantized_weight_recovery")
BITS = (2, 4, 8, 16)


def _check(where: str, activation_bits: int, weight_bits: int, algorithm: str) -> None:
    """A registry entry with settings litert-quantizer does not take is refused when it is declared, by name."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{where}: algorithm {algorithm!r} is not one of litert-quantizer's {', '.join(ALGORITHMS)}")
    if activation_bits not in (8, 16) or weight_bits not in BITS:
        raise ValueError(f"{where}: activation_bits {activation_bits} / weight_bits {weight_bits}: activations take 8 "
                         f"or 16 bits, weights {', '.join(map(str, BITS))}")


@dataclass(frozen=True)
class LayerOverride:
    """A per-layer rule of the recipe: layers whose output tensor name matches `regex` (and op `operation`, '*'
    for every op the quantizer supports) get these widths, granularity and algorithm."""

    regex: str
    activation_bits: int = 8
    weight_bits: int = 8
    per_channel: bool = True
    algorithm: str = "min_max_uniform_quantize"
    operation: str = "*"

    def __post_init__(self) -> None:
        _check(f"LayerOverride({self.regex!r})", self.activation_bits, self.weight_bits, self.algorithm)


@dataclass(frozen=True)
class LiteRTQuantizerQuant:
    """litert-quantizer static (full-integer) quantization settings: the default rule for every layer, then the
    overrides in order (a later rule wins for the layers it matches)."""

    activation_bits: int = 8
    weight_bits: int = 8
    per_channel: bool = True
    algorithm: str = "min_max_uniform_quantize"
    overrides: tuple[LayerOverride, ...] = field(default_factory=tuple)
    shape_reads_integer: bool = True  # feed the Flatten's SHAPE op the integer tensor (no DEQUANTIZE before it)
    # what it quantizes (not `source`: a settings field of that name picks the builder's fp32 model, Case.source)
    starts_from: str = "litert-fp32 .tflite (TFLiteConverter of the .h5, float)"
    representative_dataset: str = "calibration draw, one image per step"

    def __post_init__(self) -> None:
        _check("LiteRTQuantizerQuant", self.activation_bits, self.weight_bits, self.algorithm)

    def rules(self) -> list[dict[str, object]]:
        """The recipe rules, default first, as JSON for the child."""
        default = LayerOverride(".*", self.activation_bits, self.weight_bits, self.per_channel, self.algorithm)
        return [asdict(r) for r in (default, *self.overrides)]


FRAMEWORK = Framework("litert_quantizer", "LiteRT (litert-quantizer)", "litert",
                      build="ptq_helpers.backends.litert.quantizer:build",
                      run="ptq_helpers.backends.litert.backend:runner", source="h5",
                      runtime_facts="ptq_helpers.backends.litert.backend:runtime_facts",
                      needs=(("ai_edge_litert", "litert"), ("tensorflow", "litert"), ("litert_quantizer", "litert")),
                      size_kind=litert.FRAMEWORK.size_kind,
                      libraries=("ai-edge-litert", "tensorflow-cpu", "litert-quantizer"),
                      code=("ptq_helpers.backends.litert.backend",),
                      tools="`litert-quantizer` (`Quantizer.add_static_config`, `calibrate`, `quantize`) on the "
                            "float .tflite of `litert-fp32`, calibration images one per step")
FORMATS: dict[str, Format] = {}  # its files are .tflite, the format LiteRT registers


def build(case: Case, h5: Path, calibration: np.ndarray, dest: Path) -> None:
    """The float .tflite of the .h5 (TFLiteConverter, as `litert-fp32`), quantized by litert-quantizer with the
    case's settings, calibrated on `calibration` (NHWC float32 pixels 0..255)."""
    q = case.quant
    assert isinstance(q, LiteRTQuantizerQuant), case
    quantize_in_child("litert.quantizer", h5, calibration, dest,
                      {"rules": q.rules(), "shape_reads_integer": q.shape_reads_integer},
                      f"{case.id}: litert-quantizer failed", f"with rules {q.rules()}")


def quantize_in_child(module: str, h5: Path, calibration: np.ndarray, dest: Path, settings: dict[str, object],
                      failed: str, what: str) -> None:
    """The float .tflite of the .h5, then `python -m ptq_helpers.backends <module>` quantizes it with `settings`
    (the child is the only place litert-quantizer is imported); `failed`/`what` word the error."""
    with tempfile.TemporaryDirectory(prefix=f"ptq-{module}-") as tmp:
        work = Path(tmp)
        litert.build_fp32(h5, work / "fp32.tflite")
        np.save(work / "calibration.npy", np.ascontiguousarray(calibration, dtype=np.float32))
        (work / "settings.json").write_text(json.dumps(settings))
        cmd = [sys.executable, "-m", "ptq_helpers.backends", module, "--fp32", str(work / "fp32.tflite"),
               "--calibration", str(work / "calibration.npy"), "--settings", str(work / "settings.json"),
               "--out", str(dest)]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "2"})
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:]) or "no error output"
        raise AssetError(f"{failed} (exit {proc.returncode}) on the float .tflite of {h5} {what}; check that the "
                         f"'litert' extra is installed (pip install -e '.[litert]'). Last lines:\n{tail}")


def _quantize(fp32: Path, calibration: Path, rules: list[dict[str, object]], shape_reads_integer: bool) -> bytes:
    """Runs in the child: the only place litert-quantizer is imported."""
    from litert_quantizer import qtyping, quantizer

    qt = quantizer.Quantizer(str(fp32))
    for rule in rules:
        granularity = (qtyping.QuantGranularity.CHANNELWISE if rule["per_channel"]
                       else qtyping.QuantGranularity.TENSORWISE)
        qt.add_static_config(str(rule["regex"]), qtyping.TFLOperationName(rule["operation"]),
                             activation_num_bits=int(rule["activation_bits"]), weight_num_bits=int(rule["weight_bits"]),
                             weight_granularity=granularity,
                             algorithm_key=quantizer.AlgorithmName(rule["algorithm"]))
    key, name = _signature(fp32)
    images = np.load(calibration).astype(np.float32, copy=False)
    calibrated = qt.calibrate({key: [{name: image[np.newaxis]} for image in images]}, num_threads=2)
    model = bytes(qt.quantize(calibrated, enable_progress_report=False).quantized_model)
    return _shape_reads_integer(model) if shape_reads_integer else model


def _signature(path: Path) -> tuple[str, str]:
    """The float model's (signature key, input name)."""
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(path)).get_signature_list()
    key = next(iter(signatures))
    return key, signatures[key]["inputs"][0]


def _shape_reads_integer(model: bytes) -> bytes:
    """Feed every SHAPE op whose input is a DEQUANTIZE's output the DEQUANTIZE's (integer) input, and drop a
    DEQUANTIZE left with no consumer (SHAPE reads only the tensor's shape)."""
    from ai_edge_litert.tools import flatbuffer_utils
    from ai_edge_litert import schema_py_generated as schema

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    code = {i: flatbuffer_utils.get_builtin_code_from_operator_code(c) for i, c in enumerate(obj.operatorCodes)}
    for graph in obj.subgraphs:
        produced = {int(op.outputs[0]): op for op in graph.operators
                    if code[op.opcodeIndex] == schema.BuiltinOperator.DEQUANTIZE}
        for op in graph.operators:
            if code[op.opcodeIndex] == schema.BuiltinOperator.SHAPE and int(op.inputs[0]) in produced:
                op.inputs[0] = produced[int(op.inputs[0])].inputs[0]
        read = {int(i) for op in graph.operators for i in op.inputs} | {int(i) for i in graph.outputs}
        graph.operators = [op for op in graph.operators
                           if not (code[op.opcodeIndex] == schema.BuiltinOperator.DEQUANTIZE
                                   and int(op.outputs[0]) not in read)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ptq_helpers.backends litert.quantizer",
                                     description="quantize a float .tflite with litert-quantizer")
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, required=True, help="NHWC float32 .npy")
    parser.add_argument("--settings", type=Path, required=True, help="JSON: rules and shape_reads_integer")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = json.loads(args.settings.read_text())
    args.out.write_bytes(_quantize(args.fp32, args.calibration, settings["rules"], settings["shape_reads_integer"]))
