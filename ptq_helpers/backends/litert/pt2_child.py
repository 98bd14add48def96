"""The converter child of the LiteRT builds of a .pt2 source, run by path with the litert-torch environment's Python
(ptq_helpers.backends.litert.torch_setup), never imported with torch in the test process:

    <env>/bin/python -I litert_pt2_child.py --pt2 MODEL.pt2 --out OUT.tflite [--calibration IMAGES.npy]

fp32: `litert_torch.convert(program.module(), (example,))` at a batch of one image in the program's own input
layout (an NCHW program keeps an NCHW input: the converter adds the transposes). int8 (with --calibration: float32
images in the model's own input contract): ai-edge-quantizer's `static_wi8_ai8` recipe (int8 per-channel weights,
int8 activations, min/max) on that fp32 file, calibrated one image per step; the file's input and output are int8.
On failure the last stderr line is `litert-pt2: <stage>: <error>` (the parent's one-line message).
It imports only the standard library at module level: the suite hashes its source into the cache keys.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from pathlib import Path


def example_shape(program) -> tuple[int, ...]:  # noqa: ANN001 - a torch.export.ExportedProgram
    """The program's one user input at batch 1 (a symbolic dimension becomes 1)."""
    names = list(program.graph_signature.user_inputs)
    if len(names) != 1:
        raise ValueError(f"the program has {len(names)} inputs ({', '.join(names)}); the suite feeds one image tensor")
    node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == names[0])
    return tuple(d if isinstance(d, int) else 1 for d in node.meta["val"].shape)


def guard(pt2: Path) -> None:
    """ptq_helpers.data.pt2_guard.check, loaded by path (this environment has no ptq_helpers): raises before torch
    opens an archive whose loading could run code."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pt2_guard", Path(__file__).resolve().parents[2] / "data" /
                                                  "pt2_guard.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.check(pt2)


def convert(pt2: Path, dest: Path) -> None:
    import litert_torch
    import torch

    guard(pt2)
    program = torch.export.load(str(pt2))
    example = torch.zeros(example_shape(program), dtype=torch.float32)
    stage[0] = "convert"
    litert_torch.convert(program.module(), (example,)).export(str(dest))


def quantize(fp32: Path, calibration: Path, dest: Path) -> None:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    signatures = Interpreter(model_path=str(fp32)).get_signature_list()
    (signature, io), = signatures.items()
    (name,) = io["inputs"]
    images = np.load(calibration).astype(np.float32, copy=False)
    qt = quantizer.Quantizer(str(fp32))
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    ranges = qt.calibrate({signature: [{name: image[np.newaxis]} for image in images]}, num_threads=2)
    dest.write_bytes(bytes(qt.quantize(ranges, enable_progress_report=False).quantized_model))


stage = ["load"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="convert a torch.export .pt2 to .tflite with litert-torch")
    p.add_argument("--pt2", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--calibration", type=Path, help="float32 .npy in the model's input contract: full-integer int8")
    args = p.parse_args(argv)
    here = Path(__file__).resolve().parent  # run by path: its folder must not shadow packages (openvino.py, ...)
    sys.path[:] = [e for e in sys.path if Path(e or ".").resolve() != here]
    try:
        if args.calibration is None:
            convert(args.pt2, args.out)
        else:
            with tempfile.TemporaryDirectory(prefix="litert-pt2-") as work:
                fp32 = Path(work) / "fp32.tflite"
                convert(args.pt2, fp32)
                stage[0] = "quantize"
                quantize(fp32, args.calibration, args.out)
    except Exception as exc:  # noqa: BLE001 - the parent turns this line into its one-line message
        traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"litert-pt2: {stage[0]}: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
