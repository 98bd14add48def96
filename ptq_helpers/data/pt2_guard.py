"""Refuse a torch.export archive (.pt2) that could run code when it is loaded, before torch ever opens it.

`torch.export.load` (torch 2.14) unpickles a weight or tensor constant saved with `use_pickle` (`torch.load(...,
weights_only=False)`), a custom object (`torch._C._pickle_load_obj`), an opaque object (`pickle.loads`), legacy
`.pt` weight and constant files and the sample inputs (`weights_only=True`, falling back to `False` when that
fails); it loads the shared libraries of an AOTInductor package; it passes every symbolic-shape expression of the
program to `sympy.sympify`, which evaluates Python; and a graph node's target may name any attribute reachable from
`torch`, `math` or `_operator`, called when the program runs. This module reads the archive as a zip of JSON and
raw tensor bytes (standard library only, so the converter children of other environments can run it by path), and
admits only: a program whose weights and constants are raw tensor bytes, sample inputs whose pickle names nothing but
tensor reconstruction, symbolic expressions made of sympy's number/symbol constructors and torch's own shape
functions, and node targets that are operator overloads of a known namespace or plain arithmetic.
"""
from __future__ import annotations

import io
import json
import pickletools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

RESAVE = ("re-save it with torch.export.save(torch.export.export(model.eval(), (x,), dynamic_shapes=...), path) from "
          "a model whose parameters and buffers are plain torch.Tensor objects (no tensor subclasses, custom classes "
          "or opaque objects) and without AOTInductor packaging")

# What torch.save of sample inputs (a tuple of tensors and a dict) may name: tensor reconstruction only.
_SAMPLE_GLOBALS = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
                   ("collections", "OrderedDict"), ("torch", "Size"), ("torch", "device")} | {
    ("torch", f"{kind}Storage") for kind in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char",
                                             "Byte", "Bool", "ComplexFloat", "ComplexDouble")}

# Symbolic shape expressions as torch writes them (sympy's srepr and torch.utils._sympy.functions), nothing else.
_SYMPY_NAMES = {"Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Max", "Min", "Mod", "Eq", "Ne", "Lt",
                "Le", "Gt", "Ge", "And", "Or", "Not", "true", "false", "True", "False", "oo", "zoo", "nan",
                "integer", "positive", "nonnegative", "real", "finite", "FloorDiv", "ModularIndexing", "Where",
                "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "LShift", "RShift", "PowByNatural",
                "FloatPow", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat",
                "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity", "int_oo", "IntInfinity",
                "NegativeIntInfinity", "BooleanTrue", "BooleanFalse", "StrictLessThan", "LessThan",
                "StrictGreaterThan", "GreaterThan", "Equality", "Unequality", "sqrt", "floor", "ceiling", "Abs"}
_EXPR_TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|'[a-z]+[0-9]*'|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\*\*|[-+*/(),=<>!]")

# Node targets: operator overloads of these namespaces, and arithmetic on symbolic sizes.
_OP_NAMESPACES = {"aten", "prims", "quantized_decomposed", "higher_order", "torchao", "quantized", "onednn"}
_PLAIN = {"_operator": {"getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pow", "eq", "ne", "lt",
                        "le", "gt", "ge", "and_", "or_", "not_", "abs", "pos"},
          "math": {"ceil", "floor", "trunc", "sqrt"},
          "torch": {"sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_ite", "sym_sqrt", "sym_sum",
                    "_sym_sqrt", "_assert", "_check", "_check_is_size", "_assert_async"}}


class UnsafeArchive(ValueError):
    """The archive holds something whose loading could run code (message: the file, what, how to re-save)."""


def check(path: Path) -> None:
    """Raise UnsafeArchive (one line naming `path`, what was found and the fix) unless the .pt2 is plain data."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise UnsafeArchive(f"{path}: not a torch.export archive ({exc}); save the program with "
                            f"torch.export.save(program, path)") from None
    with archive:
        names = archive.namelist()
        roots = {n.split("/", 1)[0] for n in names}
        if len(roots) != 1 or not any(n.endswith("/archive_format") for n in names):
            raise UnsafeArchive(f"{path}: not a torch.export archive of this torch (no single root folder with "
                                f"archive_format: an old or foreign format, whose loader unpickles); {RESAVE}")
        root = f"{roots.pop()}/"
        for name in names:
            _check_entry(path, archive, name, name[len(root):])


def _check_entry(path: Path, archive: zipfile.ZipFile, full: str, name: str) -> None:
    if name.startswith("data/aotinductor/") or name.startswith("data/executorch/") or name.startswith("data/mtia"):
        _refuse(path, f"a compiled package ({full}), whose native code torch.export.load would load")
    if name.startswith("data/weights/") or name.startswith("data/constants/"):
        if name.endswith(".pt"):
            _refuse(path, f"a legacy pickled weights/constants file ({full})")
        if name.endswith("_config.json"):
            _check_payload_config(path, full, _json(path, archive, full))
        elif not re.fullmatch(r"data/(weights/weight|constants/tensor)_\d+", name):
            _refuse(path, f"an entry torch.export.load would unpickle or does not know ({full})")
    elif name.startswith("data/sample_inputs/"):
        _check_pickle_zip(path, full, archive.read(full))
    elif name.startswith("models/") and name.endswith(".json"):
        _check_program(path, full, _json(path, archive, full))
    elif name.startswith("xl_model_weights/"):
        _refuse(path, f"an external weights folder ({full})")


def _check_payload_config(path: Path, full: str, config: object) -> None:
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        _refuse(path, f"an unreadable payload config ({full})")
    for fqn, meta in entries.items():
        what = "constant" if "/constants/" in full else "weight"
        file = meta.get("path_name", "") if isinstance(meta, dict) else ""
        if file.startswith("custom_obj_"):
            _refuse(path, f"a custom (TorchScript-bound) object {fqn!r} ({file}), unpickled when loaded")
        if file.startswith("opaque_obj_"):
            _refuse(path, f"an opaque Python object {fqn!r} ({file}), unpickled with pickle.loads when loaded")
        if not isinstance(meta, dict) or meta.get("use_pickle") is not False or meta.get("tensor_meta") is None:
            _refuse(path, f"a pickled {what} {fqn!r} ({file or '?'}: a tensor subclass or another object saved with "
                          f"torch.save, unpickled with weights_only=False when loaded)")


def _check_pickle_zip(path: Path, full: str, data: bytes) -> None:
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        pickles = [inner.read(n) for n in inner.namelist() if n.endswith(".pkl")]
    except (zipfile.BadZipFile, OSError, KeyError):
        _refuse(path, f"sample inputs that are not a torch.save archive ({full})")
    for blob in pickles:
        for module, name in _pickle_globals(path, full, blob):
            if (module, name) not in _SAMPLE_GLOBALS:
                _refuse(path, f"sample inputs whose pickle calls {module}.{name} ({full})")


def _pickle_globals(path: Path, full: str, blob: bytes) -> Iterator[tuple[str, str]]:
    """Every global a pickle would import, read from its opcodes without executing it (STACK_GLOBAL takes the two
    strings pushed last)."""
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(blob):
            if op.name in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                yield module, name
            elif op.name == "STACK_GLOBAL":
                if len(strings) < 2:
                    _refuse(path, f"sample inputs with an unreadable pickle ({full})")
                yield strings[-2], strings[-1]
            elif isinstance(arg, str) and ("UNICODE" in op.name or "STRING" in op.name):
                strings.append(str(arg))
    except (ValueError, EOFError) as exc:
        _refuse(path, f"sample inputs with a malformed pickle ({full}: {exc})")


def _check_program(path: Path, full: str, program: object) -> None:
    for key, value in _walk(program):
        if key == "expr_str" and isinstance(value, str):
            _check_expr(path, full, value)
        elif key == "target" and isinstance(value, str):
            _check_target(path, full, value)


def _walk(node: object) -> Iterator[tuple[str, object]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                yield str(key), value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _check_expr(path: Path, full: str, expr: str) -> None:
    pos = 0
    while pos < len(expr):
        match = _EXPR_TOKEN.match(expr, pos)
        word = match.group(0) if match else expr[pos:pos + 20]
        if match is None or (word[0].isalpha() or word[0] == "_") and word not in _SYMPY_NAMES:
            _refuse(path, f"a symbolic shape expression sympy would evaluate as Python ({expr[:60]!r} in {full})")
        pos = match.end()


def _check_target(path: Path, full: str, target: str) -> None:
    parts = target.split(".")
    if parts[:2] == ["torch", "ops"] and len(parts) in (4, 5) and parts[2] in _OP_NAMESPACES and all(
            re.fullmatch(r"[A-Za-z0-9_]+", p) and not p.startswith("__") for p in parts[3:]):
        return
    if len(parts) == 2 and parts[1] in _PLAIN.get(parts[0], ()):
        return
    _refuse(path, f"a graph node calling {target!r} (only operator overloads of "
                  f"{', '.join(sorted(_OP_NAMESPACES))} and shape arithmetic are admitted; in {full})")


def _json(path: Path, archive: zipfile.ZipFile, full: str) -> object:
    try:
        return json.loads(archive.read(full))
    except ValueError:
        _refuse(path, f"an unreadable JSON entry ({full})")


def _refuse(path: Path, what: str) -> None:
    raise UnsafeArchive(f"{path}: refused before loading: it holds {what}, and loading it could run code; {RESAVE}")
