"""The fp32 model file: checked once (one input of 32x32 RGB images, NHWC or NCHW, under any name; one output of
10 classes, probabilities or logits), identified by content with its external data (input_contract.py: how it is
fed)."""
from __future__ import annotations

from pathlib import Path

import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

from ptq_helpers.core.artifacts import source_sha256
from ptq_helpers.core.errors import AssetError
from ptq_helpers.core.fileio import atomic_write_bytes, sha256_file
from ptq_helpers.data.input_contract import ContractOptions, InputContract, layout_of, resolve

INPUT_NAME = "input"  # the reference model's (and the .h5 conversion's) input name
NUM_CLASSES = 10
ASSET_FIX = "replace it with resnet8.onnx or delete it so it is converted from the .h5"
USER_FIX = ("export it again (torch.onnx.export(..., dynamo=True) or tf2onnx) and check that "
            "onnx.checker.check_model accepts it")


def _check_onnx(path: Path, fix: str = ASSET_FIX) -> dict[str, Any]:
    """Validate the fp32 ONNX model file; return its facts: input name and shape, and whether its output is a
    Softmax (probabilities) or not (logits). `fix` is the advice that fits whose file it is."""
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:
        raise AssetError(f"{path}: not a valid ONNX model ({type(exc).__name__}: {str(exc)[:200]}); {fix}") from None
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]  # old IR versions list weights as inputs
    if len(inputs) != 1 or len(graph.output) != 1:
        raise AssetError(f"{path}: expected one input and one output, found {len(inputs)} and "
                         f"{len(graph.output)}; export the model with a single image input and a single output "
                         f"of 10 class scores")
    image = inputs[0]
    if image.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        kind = onnx.TensorProto.DataType.Name(image.type.tensor_type.elem_type)
        raise AssetError(f"{path}: input {image.name!r} is {kind}, expected FLOAT (float32 images); "
                         f"export the fp32 model, not a quantized one")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in image.type.tensor_type.shape.dim]
    if layout_of([d if isinstance(d, int) else None for d in dims]) is None:
        shown = "(" + ", ".join(str(d) if isinstance(d, int) else "N" for d in dims) + ")"
        raise AssetError(f"{path}: input {image.name!r} has shape {shown}, expected (N, 32, 32, 3) NHWC or "
                         f"(N, 3, 32, 32) NCHW; export the model with a batch-first 32x32 RGB image input")
    out = [d.dim_value if d.HasField("dim_value") else None for d in graph.output[0].type.tensor_type.shape.dim]
    if len(out) != 2 or out[1] != NUM_CLASSES:
        raise AssetError(f"{path}: output has shape {out}, expected (N, 10) class scores (probabilities or logits); "
                         f"use a CIFAR-10 classifier")
    producer = next((n for n in graph.node if graph.output[0].name in n.output), None)
    return {"name": image.name, "dims": dims, "softmax": producer is not None and producer.op_type == "Softmax"}


# sha256 over the fp32 weights (see weights_sha256) of MLPerf Tiny's pretrainedResnet.h5 as ONNX: the same
# for the shared resnet8.onnx and for the .h5 converted here by tf2onnx, though those files' bytes differ.
REFERENCE_WEIGHTS_SHA256 = "f0cedf31f93d793ce4849ad9b0fa60c3334e38452b15d5f6a2d5fa37bac9ee7b"


def _model_files(path: Path) -> list[str]:
    """The names of the external-data files the .onnx's tensors point at (they change the model too)."""
    import onnx
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    extra = {next(e.value for e in t.external_data if e.key == "location")
             for t in _get_all_tensors(model) if uses_external_data(t)}
    return sorted(extra)


def model_sha256(path: Path, cache: Path | None = None) -> str:
    """sha256 of the model with its external data: what identifies it in cache keys (for a self-contained
    .onnx, the file's own sha256)."""
    files = model_files(path, cache)
    if len(files) == 1:
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _weights_sha256(path: Path) -> str:
    """sha256 over the model's weight tensors (dtype, shape and values, in sorted order of their own hashes):
    names, metadata and converter versions do not change it; any changed weight value does."""
    import hashlib

    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    parts = sorted(hashlib.sha256(f"{a.dtype}{a.shape}".encode() + np.ascontiguousarray(a).tobytes()).hexdigest()
                   for a in (numpy_helper.to_array(t) for t in model.graph.initializer))
    return hashlib.sha256("".join(parts).encode()).hexdigest()


# --- the same facts, remembered by content: a warm run neither imports onnx nor parses the model -----------------
def _memo(cache: Path | None, kind: str, content: str, compute: Callable[[], Any]) -> Any:
    """compute(), kept under cache/contract/ keyed by the content it is about and by this module's code; an entry
    that does not parse is computed again (and replaced), never trusted."""
    if cache is None:
        return compute()
    key = json.dumps({"kind": kind, "content": content, "code": source_sha256(sys.modules[__name__])})
    path = cache / "contract" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
    try:
        entry = json.loads(path.read_text())
        if isinstance(entry, dict) and entry.get("key") == key and "value" in entry:
            return entry["value"]
    except (OSError, ValueError):
        pass
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps({"key": key, "value": value}).encode())
    return value


def model_files(path: Path, cache: Path | None = None) -> list[Path]:
    """The .onnx file and the external-data files its tensors point at (they change the model too); the list
    is a fact of the .onnx file's bytes."""
    names = _memo(cache, "external-data", sha256_file(path), lambda: _model_files(path))
    return [path, *(path.parent / name for name in names)]


def check_onnx(path: Path, cache: Path | None = None, fix: str = ASSET_FIX) -> dict[str, Any]:
    """Validate the fp32 ONNX model file (with its external data); return its facts (see _check_onnx). A refusal
    is never remembered: it is raised again on every run."""
    try:
        outside = external_outside(path, cache)
        if outside:
            raise AssetError(f"{path}: its weights point at {outside}, outside the model's folder {path.parent}; "
                             f"keep the external data files beside the .onnx (torch.onnx.export's "
                             f"external_data=True writes them there)")
        content = model_sha256(path, cache)
    except OSError as exc:
        raise AssetError(f"{path}: cannot be read with its external data ({exc.strerror or exc}: "
                         f"{getattr(exc, 'filename', '') or path}); {fix}") from None
    except AssetError:
        raise
    except Exception:  # not an ONNX file at all: the contract check says what is wrong with it
        return _check_onnx(path, fix)
    return _memo(cache, "contract", content, lambda: _check_onnx(path, fix))


def external_outside(path: Path, cache: Path | None = None) -> str | None:
    """The first external-data location of the .onnx that is not inside its own folder, or None."""
    folder = path.parent.resolve()
    for file in model_files(path, cache)[1:]:
        if not file.resolve().is_relative_to(folder):
            return str(file)
    return None


def weights_sha256(path: Path, cache: Path | None = None) -> str:
    """sha256 over the model's weight tensors (see _weights_sha256)."""
    return _memo(cache, "weights", model_sha256(path, cache), lambda: _weights_sha256(path))


def read_contract(path: Path, options: ContractOptions, cache: Path | None = None, fix: str = ASSET_FIX,
                  where: str | None = None) -> InputContract:
    """The contract of the fp32 ONNX file: its input name, layout and output kind read from it (check_onnx), the
    scale, mean and std from the options; a layout option that contradicts the file is refused (ConfigError)."""
    facts = check_onnx(path, cache, fix)
    return resolve(facts["name"], facts["dims"], facts["softmax"], options, where or str(path))
