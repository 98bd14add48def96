"""The `mcu` target: TensorFlow Lite Micro (PyPI `tflite-micro`), the reference kernels a Cortex-M runs, on the host.

It evaluates every .tflite build with `runner` (one image per invoke) in sharded child
processes; `arena_bytes` asks TFLM's recording allocator how much tensor arena a model needs, and
`non_integer_ops` lists the operators that keep float tensors (a micro-controller build must have none).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from ptq_helpers.matrix.cases import Case
from ptq_helpers.core.errors import PTQError
from ptq_helpers.backends.litert.backend import dequantize, quantize
from ptq_helpers.targets.base import Target

MCU = Target(
    "mcu", "a Cortex-M micro-controller: TensorFlow Lite Micro's reference kernels (PyPI tflite-micro), one image "
    "per invoke, in child processes; .tflite builds only", evaluation="mcu-interpreter", formats=frozenset({"tflite"}),
    runner="ptq_helpers.targets.tflm:runner", runner_label="the TensorFlow Lite Micro interpreter",
    runtime_facts="ptq_helpers.targets.tflm:runtime_facts",
    needs=(("tflite_micro", "mcu"),), libraries=("tflite-micro", "ethos-u-vela", "ai-edge-litert"),
    code=("ptq_helpers.targets.mcu", "ptq_helpers.targets.vela", "ptq_helpers.backends.litert.backend"),
    reference_kernels="TFLite Micro reference kernels",
)
FLOAT_TYPES = ("FLOAT16", "FLOAT32", "FLOAT64", "BFLOAT16", "COMPLEX64", "COMPLEX128")
_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


def _interpreter(path: Path, arena_size: int | None = None):
    from tflite_micro import runtime  # `import tflite_micro.runtime` fails: runtime is a re-exported name

    return runtime.Interpreter.from_file(str(path), arena_size=arena_size)


def runner(case: Case, path: Path, threads: int):
    """TFLM as `run(images NHWC float32 0..255) -> probabilities`, one invoke per image (single thread)."""
    interpreter = _interpreter(path)
    inp, out = interpreter.get_input_details(0), interpreter.get_output_details(0)
    in_q, out_q = inp["quantization_parameters"], out["quantization_parameters"]
    shape = tuple(int(d) for d in inp["shape"])

    def run(images: np.ndarray) -> np.ndarray:
        feed = (images.astype(np.float32) if inp["dtype"] == np.float32 else
                quantize(images, float(in_q["scales"][0]), int(in_q["zero_points"][0]), inp["dtype"]))
        rows = []
        for image in feed:
            interpreter.set_input(image.reshape(shape), 0)
            interpreter.invoke()
            rows.append(interpreter.get_output(0).reshape(-1))
        raw = np.stack(rows)
        return (raw.astype(np.float32) if out["dtype"] == np.float32 else
                dequantize(raw, float(out_q["scales"][0]), int(out_q["zero_points"][0])))

    return run


def arena_bytes(path: Path) -> int:
    """Tensor-arena bytes TFLM's recording allocator reports after one invoke (printed to C-level stderr,
    so a child prints it); then checked in-process: an arena of exactly that size must allocate and run."""
    code = ("import sys, numpy as np; from ptq_helpers.targets.tflm import _interpreter; i = "
            "_interpreter(sys.argv[1]); "
            "d = i.get_input_details(0); i.set_input(np.zeros(tuple(d['shape']), d['dtype']), 0); i.invoke(); "
            "i.print_allocations()")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    found = _ARENA_TOTAL.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise PTQError(f"{path}: TFLM could not allocate and run the model (exit {proc.returncode}); last "
                       f"lines:\n{tail}")
    total = int(found.group(1))
    interpreter = _interpreter(path, arena_size=total)
    detail = interpreter.get_input_details(0)
    interpreter.set_input(np.zeros(tuple(detail["shape"]), detail["dtype"]), 0)
    interpreter.invoke()
    return total


def non_integer_ops(path: Path) -> list[str]:
    """Operators (graph order) with a float input or output tensor; [] for a full-integer model."""
    from tflite_micro import runtime

    schema = runtime.schema_fb
    model = runtime.convert_bytearray_to_object(Path(path).read_bytes())
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    found = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            ids = [i for i in [*(op.inputs if op.inputs is not None else []),
                               *(op.outputs if op.outputs is not None else [])] if i >= 0]
            if any(type_names.get(subgraph.tensors[i].type) in FLOAT_TYPES for i in ids):
                code = model.operatorCodes[op.opcodeIndex]
                builtin = runtime.get_builtin_code_from_operator_code(code)
                found.append(code.customCode.decode() if code.customCode
                             else op_names.get(builtin, f"BUILTIN_{builtin}"))
    return found


def runtime_facts(case: Case, path: Path) -> dict[str, object]:
    """Which layers TFLite Micro runs as integer kernels: the .tflite's compute ops and their tensor types (TFLM has
    no delegate and no float fallback: it runs each op with the reference kernel registered for its types)."""
    from importlib.metadata import version

    from ptq_helpers.backends.litert.backend import executed_precision

    facts = executed_precision(path, f"the .tflite's compute ops and tensor types (read with ai-edge-litert's "
                                     f"interpreter, no delegate applied); TensorFlow Lite Micro "
                               f"{version('tflite-micro')} "
                                     "runs each with its reference kernel for those types", delegate=False)
    return facts
