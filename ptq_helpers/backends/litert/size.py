"""4-bit-weight LiteRT builds from a per-layer width recipe (ptq_helpers.matrix.size_recipe): litert-quantizer's W8A8
per channel (min-max) with the recipe's CONV_2D layers at 4-bit weights, rounded by GPTQ
(ptq_helpers.backends.litert.gptq,
applied to the float weights first) or by one of litert-quantizer's algorithms. Its own registry entry (prefix
`litert`: `litert-fp32` is the baseline), its builder in a child process (`python -m ptq_helpers.backends
litert_size`), run with LiteRT's runner.

Only CONV_2D layers go to 4 bits: TFLite Micro's FULLY_CONNECTED refuses int4 filters with int8 input
("fully_connected_common.cc:98 ... failed to prepare", tflite-micro 0.dev20261023), so the dense layer stays 8-bit.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptq_helpers.backends.litert import backend as litert
from ptq_helpers.backends.litert.quantizer import LayerOverride, LiteRTQuantizerQuant, quantize_in_child
from ptq_helpers.matrix import cases
from ptq_helpers.matrix.cases import Case, Format, Framework
from ptq_helpers.matrix.size_recipe import LayerWidth, SizeRecipe, from_json

CASE_ID = "litert-size-search"  # the size search's build (ptq_helpers.backends.litert.size_search)
RECIPE_ENV = "RESNET8_PTQ_SIZE_RECIPE"  # the run's size recipe (JSON), for child processes that look a case up
_CONV = re.compile(r"/(conv2d_[0-9_]+)/")


@dataclass(frozen=True)
class LiteRTSizeQuant:
    """The recipe's layers (in order); every other layer W8A8 per channel, min-max, as litert-quantizer's default."""

    layers: tuple[LayerWidth, ...] = ()
    base: str = "litert-quantizer W8A8 per channel, min-max (litert-w8a8-lq)"
    gptq: str = "GPTQ on the calibration images' activations, 1% damping, scale max|w|/7, then litert-quantizer min-max"

    def quantizer_settings(self) -> LiteRTQuantizerQuant:
        """litert-quantizer's rules: GPTQ layers are min-max on the GPTQ-rounded float weights."""
        return LiteRTQuantizerQuant(overrides=tuple(
            LayerOverride(f"/{w.layer}/", 8, w.weight_bits, True,
                          "min_max_uniform_quantize" if w.algorithm == "GPTQ" else w.algorithm, "CONV_2D")
            for w in self.layers))

    @property
    def gptq_layers(self) -> tuple[str, ...]:
        return tuple(w.layer for w in self.layers if w.algorithm == "GPTQ" and w.weight_bits == 4)


FRAMEWORK = Framework("litert_size", "LiteRT (4-bit weights)", "litert", build="ptq_helpers.backends.litert.size:build",
                      run="ptq_helpers.backends.litert.backend:runner", source="h5",
                      runtime_facts="ptq_helpers.backends.litert.backend:runtime_facts",
                      run_cases="ptq_helpers.backends.litert.size:case_from_environment",
                      run_step="ptq_helpers.backends.litert.size_search:run_step",
                      needs=(("ai_edge_litert", "litert"), ("tensorflow", "litert"), ("litert_quantizer", "litert")),
                      size_kind=litert.FRAMEWORK.size_kind,
                      libraries=("ai-edge-litert", "tensorflow-cpu", "litert-quantizer"),
                      code=("ptq_helpers.backends.litert.backend", "ptq_helpers.backends.litert.quantizer",
                            "ptq_helpers.backends.litert.gptq", "ptq_helpers.matrix.size_recipe"),
                      tools="the float .tflite of `litert-fp32`; GPTQ (this suite, numpy) rewrites the 4-bit layers' "
                            "float weights; `litert-quantizer` W8A8 per channel with those layers at 4 bits")
FORMATS: dict[str, Format] = {}


def case_of(recipe: SizeRecipe, case_id: str = CASE_ID, matrix: str = "seed") -> Case:
    """The build of a recipe (dtype w4w8a8, int4 and int8 weights, when a layer has 4-bit weights)."""
    dtype = "w4w8a8" if any(w.weight_bits == 4 for w in recipe.layers) else "int8"
    return Case(case_id, "litert_size", dtype, "tflite", LiteRTSizeQuant(recipe.layers), matrix=matrix)


def run_case(recipe: SizeRecipe, matrix: str) -> Case:
    """The run's recipe case: a catalog row of the run's matrix with the same layers when there is one (so one build
    is not gated twice under two names), else `litert-size-search`, for the session to add to its run (the catalog
    is left as it is); put in the environment, so the target children this process starts find it by id."""
    same = {(w.layer, w.weight_bits, w.algorithm) for w in recipe.layers}
    twin = next((c for c in cases.selected(matrix) if isinstance(c.quant, LiteRTSizeQuant) and c.id != CASE_ID
                 and {(w.layer, w.weight_bits, w.algorithm) for w in c.quant.layers} == same), None)
    if twin is not None:
        return twin
    os.environ[RECIPE_ENV] = json.dumps(recipe.to_json())
    return case_of(recipe)


def case_from_environment() -> None:
    """In a child process: the run's recipe case, when the parent set one."""
    raw = os.environ.get(RECIPE_ENV)
    if raw and CASE_ID not in cases.BY_ID:
        cases.add(case_of(from_json(json.loads(raw), f"${RECIPE_ENV}")))


def build(case: Case, h5: Path, calibration: np.ndarray, dest: Path) -> None:
    """The float .tflite of the .h5, GPTQ on its 4-bit layers, then litert-quantizer (one child process)."""
    q = case.quant
    assert isinstance(q, LiteRTSizeQuant), case
    settings = q.quantizer_settings()
    quantize_in_child("litert.size", h5, calibration, dest,
                      {"rules": settings.rules(), "gptq": list(q.gptq_layers),
                       "shape_reads_integer": settings.shape_reads_integer},
                      f"{case.id}: the 4-bit build failed", f"with layers {q.layers}")


def conv_layers(path: Path) -> dict[str, int]:
    """The .tflite's CONV_2D layers (Keras names, graph order) with their weight element counts."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    found: dict[str, int] = {}
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the interpreter's only per-op listing
        if op["op_name"] == "CONV_2D":
            weights = tensors[op["inputs"][1]]
            name = _CONV.search(weights["name"] + "/")
            if name:
                found[name.group(1)] = int(weights["shape"].prod())
    return found


def has_int4(path: Path) -> bool:
    """Whether the .tflite holds an INT4 tensor (read from the flatbuffer)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(Path(path).read_bytes()))
    return any(t.type == schema.TensorType.INT4 for g in model.subgraphs for t in g.tensors)


def main(argv: list[str] | None = None) -> None:
    from ptq_helpers.backends.litert import gptq
    from ptq_helpers.backends.litert.quantizer import _quantize

    parser = argparse.ArgumentParser(prog="python -m ptq_helpers.backends litert.size",
                                     description="GPTQ on chosen conv layers, then litert-quantizer")
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, required=True, help="NHWC float32 .npy")
    parser.add_argument("--settings", type=Path, required=True, help="JSON: rules, gptq layers, shape_reads_integer")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = json.loads(args.settings.read_text())
    fp32 = args.fp32
    if settings["gptq"]:
        fp32 = args.fp32.with_name("fp32-gptq.tflite")
        ratios = gptq.rewrite(args.fp32, fp32, tuple(settings["gptq"]), np.load(args.calibration))
        print(json.dumps({"gptq_error_vs_round_to_nearest": ratios}), file=sys.stderr)
    args.out.write_bytes(_quantize(fp32, args.calibration, settings["rules"], settings["shape_reads_integer"]))
