"""Per-layer width recipes (ptq_helpers.matrix.size_recipe) as litert-quantizer settings, and the facts about a
.tflite the size search needs: its conv layers with their weight counts, and whether a file holds int4 tensors.

Only CONV_2D layers go to 4 bits: TFLite Micro's FULLY_CONNECTED refuses int4 filters with int8 input
("fully_connected_common.cc:98 ... failed to prepare": measured with tflite-micro 0.dev20261023), so the dense
layer stays at 8 bits. ai-edge-litert is imported only inside the functions.
"""
from __future__ import annotations

import re
from pathlib import Path

from ptq_helpers.backends.litert_quantizer import LayerOverride, LiteRTQuantizerQuant
from ptq_helpers.matrix.size_recipe import SizeRecipe

_CONV = re.compile(r"/((?:conv2d)_[0-9_]+)/")


def quant_of(recipe: SizeRecipe) -> LiteRTQuantizerQuant:
    """litert-quantizer's per-channel W8A8 min-max with one override per recipe layer (its bits and algorithm)."""
    return LiteRTQuantizerQuant(overrides=tuple(
        LayerOverride(f"/{w.layer}/", 8, w.weight_bits, True, w.algorithm, "CONV_2D") for w in recipe.layers))


def conv_layers(path: Path) -> dict[str, int]:
    """The .tflite's CONV_2D layers (Keras names, graph order) with their weight element counts."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    found: dict[str, int] = {}
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the interpreter's only per-op listing
        if op["op_name"] != "CONV_2D":
            continue
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
