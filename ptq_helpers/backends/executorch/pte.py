"""What an ExecuTorch program (.pte) executes, read from the file: its execution plan (operators run outside any
delegate, delegate calls) and each XnnpackBackend payload decoded with the XNNPACK flatbuffer schema shipped in the
executorch wheel (with the wheel's `flatc`): node types and the datatypes of their values. Used by
`ptq_helpers.backends.executorch.runtime_facts`; nothing here runs the model. Also ExecuTorch's known warnings
(`quiet_executorch`), which both modules need.
"""
from __future__ import annotations

import json
import re
import struct
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# ExecuTorch 1.5.1 reads its schemas and op tables with importlib.resources' legacy API (deprecated in 3.11) when
# it is imported and when it serializes, and its threadpool calls are marked experimental; known and harmless.
_KNOWN_NOISE = (
    (DeprecationWarning, r"(read_text|open_text|read_binary|open_binary) is deprecated\. Use files\(\) instead"),
    (Warning, r"This API is experimental and subject to change without notice"),
)


@contextmanager
def quiet_executorch() -> Iterator[None]:
    """Silence exactly ExecuTorch's known noise; every other warning still surfaces (the suite makes warnings
    errors, and an error raised inside ExecuTorch's first import leaves it half-imported for the process)."""
    with warnings.catch_warnings():
        for category, message in _KNOWN_NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


# XNNPACK value datatypes (schema.fbs `XNNDatatype`) that are integer.
_INTEGER = {"xnn_datatype_qint8", "xnn_datatype_quint8", "xnn_datatype_qcint8", "xnn_datatype_qcint4",
            "xnn_datatype_qdint8", "xnn_datatype_qbint4", "xnn_datatype_qpint8", "xnn_datatype_qint32",
            "xnn_datatype_qcint32", "xnn_datatype_int32"}
_CONV_NODES = ("XNNConv2d", "XNNDepthwiseConv2d", "XNNConvTranspose2d")
_FC_NODES = ("XNNFullyConnected", "XNNBatchMatrixMultiply")
# Operators of the execution plan (outside any delegate) that would be a convolution or a matrix product.
_PORTABLE_CONV = re.compile(r"convolution|conv2d")
_PORTABLE_FC = re.compile(r"linear|addmm|\bmm\b|aten::mm|bmm|matmul")


def _xnnpack_graph(payload: bytes) -> dict[str, Any]:
    """An XnnpackBackend delegate payload (XNNHeader + flatbuffer + constant data) as the schema's JSON."""
    from executorch.backends.xnnpack.serialization import xnnpack_graph_serialize
    from executorch.exir._serialize import _flatbuffer

    if payload[4:8] != b"XH00":
        raise ValueError(f"not an XNNPACK delegate payload (magic {payload[4:8]!r})")
    offset, size = struct.unpack_from("<II", payload, 10)
    schema = Path(xnnpack_graph_serialize.__file__).with_name("schema.fbs")
    with tempfile.TemporaryDirectory(prefix="ptq-et-") as work:
        binary = Path(work, "graph.bin")
        binary.write_bytes(payload[offset:offset + size])
        _flatbuffer._flatc_decompile(work, str(schema), str(binary), ["--raw-binary"])
        text = Path(work, "graph.json").read_text()
    text = re.sub(r"(:\s*-?)inf\b", r"\1Infinity", text)  # flatc writes inf/nan, which JSON has no words for
    return json.loads(re.sub(r"(:\s*-?)nan\b", r"\1NaN", text))


def _value(graph: dict[str, Any], index: int) -> tuple[str, list[int]]:
    """(datatype, dims) of an xvalue."""
    union = graph["xvalues"][index]["xvalue_union"]
    tensor = union.get("tensor_value", union)
    return tensor["datatype"], list(tensor.get("dims") or [])


def executed_layers(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The program's convolutions and matrix products in execution order, each with where it runs (the XNNPACK
    delegate or a kernel of the execution plan), its node type, input/weight/output datatypes and weight dims;
    and the program's other facts (delegates, operators outside them, XNNPACK node counts)."""
    with quiet_executorch():
        return _executed_layers(path)


def _executed_layers(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from collections import Counter

    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(Path(path).read_bytes()).program
    if len(program.execution_plan) != 1:
        raise ValueError(f"{path}: {len(program.execution_plan)} methods; expected one (forward)")
    plan = program.execution_plan[0]
    layers: list[dict[str, Any]] = []
    nodes: Counter[str] = Counter()
    float_nodes: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    backends: Counter[str] = Counter()
    for chain in plan.chains:
        for instruction in chain.instructions:
            args = instruction.instr_args
            kind = type(args).__name__
            if kind == "KernelCall":
                op = plan.operators[args.op_index]
                name = f"{op.name}.{op.overload}" if op.overload else op.name
                outside[name] += 1
                if _PORTABLE_CONV.search(name) or _PORTABLE_FC.search(name):
                    integer = "quantized" in name
                    layers.append({"kind": "conv" if _PORTABLE_CONV.search(name) else "fc", "where": "kernel",
                                   "node": name, "integer": integer})
            elif kind == "DelegateCall":
                delegate = plan.delegates[args.delegate_index]
                backends[delegate.id] += 1
                if delegate.id != "XnnpackBackend":
                    continue
                data = program.backend_delegate_data[delegate.processed.index].data
                graph = _xnnpack_graph(bytes(data))
                for xnode in graph["xnodes"]:
                    kind_ = xnode["xnode_union_type"]
                    nodes[kind_] += 1
                    node = xnode["xnode_union"]
                    out_type = _value(graph, node["output_id"])[0] if "output_id" in node else None
                    if out_type == "xnn_datatype_fp32" and kind_ not in ("XNNConvert",):
                        float_nodes[kind_] += 1
                    if kind_ not in _CONV_NODES + _FC_NODES:
                        continue
                    (x_type, _), (w_type, w_dims) = (_value(graph, node["input1_id"]),
                                                     _value(graph, node.get("filter_id", node.get("input2_id"))))
                    layers.append({"kind": "conv" if kind_ in _CONV_NODES else "fc", "where": "XNNPACK",
                                   "node": kind_, "input": x_type.removeprefix("xnn_datatype_"),
                                   "weights": w_type.removeprefix("xnn_datatype_"),
                                   "output": out_type.removeprefix("xnn_datatype_") if out_type else None,
                                   "weight_dims": w_dims,
                                   "integer": x_type in _INTEGER and w_type in _INTEGER})
    facts = {"delegates": dict(backends), "outside": dict(outside), "xnnpack_nodes": dict(nodes),
             "xnnpack_float_nodes": dict(float_nodes)}
    return layers, facts


def named(layers: list[dict[str, Any]]) -> list[str]:
    """Positional names in execution order: "conv 1".."conv N", and "fc" (or "fc 1".."fc M" when there are several)."""
    total = {kind: sum(layer["kind"] == kind for layer in layers) for kind in ("conv", "fc")}
    seen = {"conv": 0, "fc": 0}
    names = []
    for layer in layers:
        seen[layer["kind"]] += 1
        alone = layer["kind"] == "fc" and total["fc"] == 1
        names.append(layer["kind"] if alone else f"{layer['kind']} {seen[layer['kind']]}")
    return names
