"""A per-layer width recipe of a micro-controller build: which layers get 4-bit weights and with which of
litert-quantizer's algorithms (every other layer keeps 8-bit per-channel weights and 8-bit activations).

`--ptq-search=size` finds one (ptq_helpers.backends.litert.size_search) and writes it to the results JSON
(`size_search`) and
the report; `--ptq-size-recipe FILE` loads one back (a recipe file, or the results JSON of an earlier run) so CI
re-checks that exact recipe without searching. No ML library here: the recipe is data, validated once, with
messages that name the file and the fix.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptq_helpers.core.errors import ConfigError

KIND = "resnet8-ptq size recipe"
VERSION = 1
WEIGHT_BITS = (4, 8)
# "GPTQ": the suite's GPTQ rounding of the float weights (ptq_helpers.backends.litert.gptq), then litert-quantizer's
# min-max, which reproduces those integers; the others are litert-quantizer 0.11's AlgorithmName values that quantize
# CONV_2D weights (its own GPTQ takes FULLY_CONNECTED only: "Unsupported operation CONV_2D for Algorithm: GPTQ")
ALGORITHMS = ("GPTQ", "min_max_uniform_quantize", "OCTAV", "MSE")
_LAYER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # a Keras layer name, as in the .tflite's tensor names


@dataclass(frozen=True)
class LayerWidth:
    """One layer's weight width and the algorithm that rounds it."""

    layer: str  # the Keras layer name, e.g. "conv2d_7_1" (matched as "/<layer>/" in the op's tensor name)
    weight_bits: int = 4
    algorithm: str = "GPTQ"


@dataclass(frozen=True)
class SizeRecipe:
    """The layers that leave 8 bits, in the order the search added them; `origin` says where it came from."""

    layers: tuple[LayerWidth, ...] = ()
    origin: str = "search"

    @property
    def slug(self) -> str:
        """Short id text: 'w4x3' for three 4-bit layers."""
        return f"w4x{sum(1 for w in self.layers if w.weight_bits == 4)}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": KIND, "version": VERSION,
                "layers": [{"layer": w.layer, "weight_bits": w.weight_bits, "algorithm": w.algorithm}
                           for w in self.layers]}


def _fail(source: str, what: str) -> ConfigError:
    return ConfigError(f"--ptq-size-recipe {source}: {what}; give a recipe file written by --ptq-search=size (the "
                       f"results JSON's 'size_search' entry, or {{\"kind\": \"{KIND}\", \"version\": {VERSION}, "
                       f"\"layers\": [{{\"layer\": \"conv2d_7_1\", \"weight_bits\": 4, \"algorithm\": \"GPTQ\"}}]}})")


def from_json(data: Any, source: str) -> SizeRecipe:
    """A recipe from its JSON (or from a results JSON holding one under `size_search.recipe`); ConfigError naming
    `source` on anything malformed."""
    if isinstance(data, dict) and "size_search" in data:
        found = data["size_search"]
        if not isinstance(found, dict) or not isinstance(found.get("recipe"), dict):
            raise _fail(source, "this results file has no size-search recipe (its run found none)")
        data = found["recipe"]
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise _fail(source, f"not a size recipe (no \"kind\": \"{KIND}\")")
    if data.get("version") != VERSION:
        raise _fail(source, f"recipe version {data.get('version')!r}, this suite reads version {VERSION}")
    rows = data.get("layers")
    if not isinstance(rows, list):
        raise _fail(source, "\"layers\" must be a list")
    layers = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) - {"layer", "weight_bits", "algorithm"}:
            raise _fail(source, f"layers[{i}] must be an object with layer, weight_bits, algorithm")
        name, bits, algo = row.get("layer"), row.get("weight_bits", 4), row.get("algorithm", "GPTQ")
        if not isinstance(name, str) or not _LAYER.match(name):
            raise _fail(source, f"layers[{i}].layer {name!r} is not a layer name like conv2d_7_1")
        if bits not in WEIGHT_BITS or isinstance(bits, bool):
            raise _fail(source, f"layers[{i}].weight_bits {bits!r} is not one of {', '.join(map(str, WEIGHT_BITS))}")
        if algo not in ALGORITHMS:
            raise _fail(source, f"layers[{i}].algorithm {algo!r} is not one of {', '.join(ALGORITHMS)}")
        layers.append(LayerWidth(name, int(bits), algo))
    if len({w.layer for w in layers}) != len(layers):
        raise _fail(source, "a layer is listed twice")
    return SizeRecipe(tuple(layers), origin=source)


def load(path: Path) -> SizeRecipe:
    """Read a recipe file or a results JSON; ConfigError naming the file on a missing or malformed one."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise _fail(str(path), f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _fail(str(path), f"is not JSON ({exc})") from None
    return from_json(data, str(path))
