"""A PyTorch `--ptq-model model.pt2` (torch.export) as the ONNX file ONNX Runtime and OpenVINO run, in a child
process (torch stays out of the test process):

    python -m ptq_helpers.data.convert_torch SRC.pt2 DEST.onnx CIFAR_DIR CONTRACT.json

`torch.onnx.export(program, dynamo=True)`, then both answer the 10,000 CIFAR-10 test images fed in the model's
contract (CONTRACT.json: the --ptq-input-* options): the conversion is refused when more than MAX_DISAGREE images
change their top-1, and the agreement is written beside DEST (DEST.agreement.json) for the header and the JSON.
Exit 3 with one line on stderr when the program or its agreement is refused.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ptq_helpers.data import pt2_guard
from ptq_helpers.data.contract import NUM_CLASSES
from ptq_helpers.data.input_contract import ContractOptions, resolve

MAX_DISAGREE = 2  # of 10,000: float reassociation by a converter moves a near-tie or two, never more
OPSET = 18
BATCH = 1000


def _input(program) -> tuple[str, list[int | str]]:
    """The program's one user input: its name and shape (a symbolic dimension as its name)."""
    names = program.graph_signature.user_inputs
    if len(names) != 1:
        raise ValueError(f"it takes {len(names)} inputs ({', '.join(names)}); export a model with one image input")
    node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == names[0])
    shape = node.meta["val"].shape
    return names[0], [int(d) if str(d).isdigit() else str(d) for d in shape]


def convert(src: Path, dest: Path, cifar_dir: Path, options: ContractOptions) -> dict[str, object]:
    import onnxruntime as ort
    import torch

    from ptq_helpers.data.cifar import load_split
    from ptq_helpers.data.model_inputs import ModelSplit

    pt2_guard.check(src)  # before torch opens it: a .pt2 may hold pickles (ptq_helpers.data.pt2_guard)
    program = torch.export.load(str(src))
    name, dims = _input(program)
    if isinstance(dims[0], int):
        raise ValueError(f"its input {name!r} has a static batch of {dims[0]} ({tuple(dims)}); export it with a "
                         f"dynamic batch: torch.export.export(model, (x,), dynamic_shapes=({{0: "
                         f"torch.export.Dim('batch')}},))")
    contract = resolve(name, dims, False, options, str(src))  # the output kind does not matter to top-1
    onnx_program = torch.onnx.export(program, dynamo=True, opset_version=OPSET, verbose=False)
    onnx_program.save(str(dest))
    split = ModelSplit(contract, load_split(cifar_dir, "test"))
    module = program.module()
    session = ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    disagree, max_diff = 0, 0.0
    for i in range(0, len(split), BATCH):
        x = split.images(slice(i, i + BATCH))
        with torch.no_grad():
            ours = module(torch.from_numpy(x)).numpy()
        theirs = session.run(None, {feed: x})[0]
        if ours.shape[1:] != (NUM_CLASSES,):
            raise ValueError(f"it answers shape {ours.shape}, expected (N, {NUM_CLASSES}) class scores")
        disagree += int((ours.argmax(1) != theirs.argmax(1)).sum())
        max_diff = max(max_diff, float(np.abs(ours - theirs).max()))
    facts = {"converter": f"torch.onnx.export(dynamo=True, opset {OPSET})", "images": len(split),
             "top1_disagree": disagree, "max_abs_diff": max_diff, "allowed": MAX_DISAGREE}
    if disagree > MAX_DISAGREE:
        raise ValueError(f"the exported ONNX disagrees with the program on the top-1 of {disagree} of {len(split):,} "
                         f"test images (max |difference| {max_diff:.3g}; at most {MAX_DISAGREE} allowed)")
    return facts


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python -m ptq_helpers.data.convert_torch SRC.pt2 DEST.onnx CIFAR_DIR CONTRACT.json",
              file=sys.stderr)
        return 2
    src, dest, cifar_dir, contract_json = map(Path, argv)
    raw = json.loads(contract_json.read_text())
    options = ContractOptions(raw["layout"], raw["scale"], tuple(raw["mean"]), tuple(raw["std"]))
    try:
        facts = convert(src, dest, cifar_dir, options)
    except Exception as exc:  # one line for the parent's message
        print(f"{type(exc).__name__}: {exc}".splitlines()[0][:400], file=sys.stderr)
        return 3
    dest.with_name(dest.name + ".agreement.json").write_text(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
