"""The fp32 model as a torch module, from the user's torch.export program (.pt2) or as the onnx2torch module of the
ONNX file, and the graph rewrites the PyTorch-based builds share (PyTorch FX and PT2E, ExecuTorch): static reshapes
for torch.export, and the ONNX MatMul as `F.linear` for the quantizers."""
from __future__ import annotations

from pathlib import Path

from ptq_helpers.core.errors import AssetError
from ptq_helpers.data import pt2_guard


def load_program(path: Path):
    """torch.export.load of a .pt2 that holds nothing whose loading runs code (ptq_helpers.data.pt2_guard: no
    pickled weight or constant, custom or opaque object, compiled package, evaluated expression or foreign call)."""
    import torch

    try:
        pt2_guard.check(path)
    except pt2_guard.UnsafeArchive as exc:
        raise AssetError(str(exc)) from None
    return torch.export.load(str(path))


def torch_module(source: Path):
    """The fp32 model as a torch.fx.GraphModule: a .pt2's own program (load_program(...).module(), exported in
    eval mode by its author), else the ONNX file's onnx2torch module (onnx_to_torch)."""
    if source.suffix == ".pt2":
        return load_program(source).module()
    return onnx_to_torch(source)


def input_shape(source: Path, batch: int) -> tuple[int, ...]:
    """The model's input shape with `batch` images (NHWC or NCHW, as the file takes them)."""
    if source.suffix == ".pt2":
        program = load_program(source)
        name = program.graph_signature.user_inputs[0]
        node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == name)
        dims = [int(d) if str(d).isdigit() else None for d in node.meta["val"].shape]
    else:
        import onnx

        graph = onnx.load(str(source), load_external_data=False).graph
        weights = {i.name for i in graph.initializer}
        image = next(i for i in graph.input if i.name not in weights)
        dims = [d.dim_value if d.HasField("dim_value") else None for d in image.type.tensor_type.shape.dim]
    return (batch, *(int(d or 0) for d in dims[1:]))


MAX_DISAGREE = 2  # of 10,000 test images: float reassociation moves a near-tie or two, never more


def export_program(source: Path, dest: Path, images) -> None:
    """The ONNX file as a torch.export program (onnx2torch, dynamic batch) saved at dest, refused when it changes
    the top-1 answer of more than MAX_DISAGREE of `images` (the test images in the model's contract) against ONNX
    Runtime on the file itself."""
    import numpy as np
    import onnxruntime as ort
    import torch

    module = onnx_to_torch(source)
    example = (torch.from_numpy(np.ascontiguousarray(images[:2])),)
    program = torch.export.export(module, example, dynamic_shapes=({0: torch.export.Dim("batch")},))
    session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    name, disagree = session.get_inputs()[0].name, 0
    runnable = program.module()
    for i in range(0, len(images), 1000):
        x = np.ascontiguousarray(images[i:i + 1000])
        with torch.no_grad():
            ours = runnable(torch.from_numpy(x)).numpy()
        disagree += int((ours.argmax(1) != session.run(None, {name: x})[0].argmax(1)).sum())
    if disagree > MAX_DISAGREE:
        raise RuntimeError(f"{source}: its onnx2torch program changes the top-1 answer of {disagree} of "
                           f"{len(images):,} test images against ONNX Runtime (at most {MAX_DISAGREE}); the LiteRT "
                           f"builds cannot start from it")
    torch.export.save(program, str(dest))


def onnx_to_torch(source: Path):
    """The fp32 ONNX model as a torch.fx.GraphModule (onnx2torch), in eval mode, reshapes made static."""
    import onnx
    from onnx2torch import convert

    return float_divisions(static_reshapes(convert(_without_allowzero(_opset(onnx.load(str(source))))).eval()))


ONNX2TORCH_OPSET = 17  # the newest opset whose operators onnx2torch 1.5 converts (AveragePool-19, Reshape-19: not)


def _opset(model):
    """The model at ONNX2TORCH_OPSET when it is newer (torch.onnx's dynamo exporter writes opset 20), converted by
    onnx's own version converter; an older model as it is."""
    from onnx import version_converter

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return version_converter.convert_version(model, ONNX2TORCH_OPSET) if opset > ONNX2TORCH_OPSET else model


def float_divisions(gm):
    """Replace onnx2torch's Div modules by `torch.div`: theirs chooses integer or float division by the operands'
    dtype at run time, a branch FX's symbolic tracing cannot follow; every tensor of the fp32 model is float, where
    the two are the same true division."""
    import torch
    from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation, _onnx_div

    for node in list(gm.graph.nodes):
        op = gm.get_submodule(node.target) if node.op == "call_module" else None
        if not isinstance(op, OnnxBinaryMathOperation) or op.math_op_function is not _onnx_div or op.broadcast:
            continue
        with gm.graph.inserting_before(node):
            new = gm.graph.call_function(torch.div, tuple(node.args))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def _without_allowzero(model):
    """Reshape's `allowzero=1` (torch.onnx's dynamo exporter writes it) means the same as 0 when the target shape
    holds no zero; onnx2torch implements only 0, so such Reshapes are given 0 (any other stays as it is)."""
    from onnx import numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    constants.update({n.output[0]: numpy_helper.to_array(a.t) for n in model.graph.node if n.op_type == "Constant"
                      for a in n.attribute if a.name == "value"})
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.input[1] not in constants or 0 in constants[node.input[1]]:
            continue
        for attr in node.attribute:
            if attr.name == "allowzero" and attr.i == 1:
                attr.i = 0
    return model


def static_reshapes(gm):
    """Replace onnx2torch Reshape modules whose target shape is a constant without zeros by an
    exact `torch.reshape(x, shape)`. Their `if torch.any(shape == 0)` branch is data-dependent,
    which tracing can only freeze (with warnings) and torch.export cannot handle at all."""
    import torch
    from onnx2torch.node_converters.reshape import OnnxReshape

    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(gm.get_submodule(node.target), OnnxReshape):
            continue
        data, shape_node = node.args
        if getattr(shape_node, "op", None) != "get_attr":
            continue
        shape = tuple(int(v) for v in _attr(gm, shape_node.target).tolist())
        if 0 in shape:
            continue
        with gm.graph.inserting_before(node):
            new = gm.graph.call_function(torch.reshape, (data, shape))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def _attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def matmul_as_linear(gm):
    """Replace onnx2torch MatMul modules whose second operand is a constant 2-D weight W by an `nn.Linear` holding
    W.T, taking in the bias when the MatMul's only user is an Add of a constant 1-D tensor: the same function (the
    fp32 probabilities agree to ~1e-6), in the form the quantizers annotate (XNNPACKQuantizer matches aten.linear;
    X86InductorQuantizer finds linear layers by their source module, which a bare F.linear call does not record)."""
    import torch
    from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation
    from onnx2torch.node_converters.matmul import OnnxMatMul

    for index, node in enumerate(list(gm.graph.nodes)):
        if node.op != "call_module" or not isinstance(gm.get_submodule(node.target), OnnxMatMul):
            continue
        x, w = node.args
        if getattr(w, "op", None) != "get_attr" or _attr(gm, w.target).dim() != 2:
            continue
        weight = _attr(gm, w.target).detach()
        replaced, bias = node, None
        users = list(node.users)
        if len(users) == 1 and users[0].op == "call_module" and len(users[0].args) == 2 and \
                users[0].args[0] is node:
            add, bias_node = users[0], users[0].args[1]
            op = gm.get_submodule(add.target)
            is_add = isinstance(op, OnnxBinaryMathOperation) and op.math_op_function is torch.add and \
                op.broadcast is None
            if is_add and getattr(bias_node, "op", None) == "get_attr" and _attr(gm, bias_node.target).dim() == 1:
                replaced, bias = add, _attr(gm, bias_node.target).detach()
        linear = torch.nn.Linear(weight.shape[0], weight.shape[1], bias=bias is not None)
        with torch.no_grad():
            linear.weight.copy_(weight.t())
            if bias is not None:
                linear.bias.copy_(bias)
        name = f"linear_{index}"
        gm.add_submodule(name, linear.eval())
        with gm.graph.inserting_before(replaced):  # after the bias it may take in
            new = gm.graph.call_module(name, (x,))
        replaced.replace_all_uses_with(new)
        if replaced is not node:
            gm.graph.erase_node(replaced)
        gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm
