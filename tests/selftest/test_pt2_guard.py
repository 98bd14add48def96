"""No file you load runs code: hostile torch.export archives (.pt2) are refused before torch opens them.

Each archive is a real `torch.export.save` of a small program, rewritten the way a contributor's branch could ship
it. A control first shows the archive is really hostile (torch.export.load in a child process writes the marker);
then the suite's loaders and `pytest --ptq-model` refuse it with one line naming the file, and the marker is never
written by them.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ptq_helpers.core.errors import AssetError
from ptq_helpers.data import pt2_guard

ROOT = Path(__file__).resolve().parents[2]


class _Payload:
    """Unpickling it creates `marker` (what an attacker's code would do, harmlessly)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _plain(path: Path) -> Path:
    import torch

    class Small(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).mean((2, 3))

    program = torch.export.export(Small().eval(), (torch.zeros(2, 3, 8, 8),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
    return path


def _rewrite(src: Path, dest: Path, change: Callable[[str, bytes], bytes | None],
             add: dict[str, bytes] | None = None) -> Path:
    """dest = src with each entry passed through change(name, data) (None drops it), plus `add` (names under the
    archive's root folder)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zout:
        root = zin.namelist()[0].split("/", 1)[0]
        for name in zin.namelist():
            data = change(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
        for name, data in (add or {}).items():
            zout.writestr(f"{root}/{name}", data)
    return dest


def _torch_saved(obj: object) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _config(data: bytes, entry: str, meta: dict) -> bytes:
    config = json.loads(data)
    config["config"][entry] = meta
    return json.dumps(config).encode()


def _pickled_weight(plain: Path, dest: Path, marker: Path) -> Path:
    with zipfile.ZipFile(plain) as z:
        config = next(n for n in z.namelist() if n.endswith("data/weights/model_weights_config.json"))
        meta = json.loads(z.read(config))["config"]["conv.weight"]

    def change(name: str, data: bytes) -> bytes:
        if name == config:
            return _config(data, "conv.weight", {**meta, "use_pickle": True})
        if name.endswith(f"data/weights/{meta['path_name']}"):
            return _torch_saved(_Payload(marker))
        return data
    return _rewrite(plain, dest, change)


def _pickled_constant(plain: Path, dest: Path, marker: Path) -> Path:
    def change(name: str, data: bytes) -> bytes:
        if name.endswith("data/constants/model_constants_config.json"):
            return _config(data, "evil", {"path_name": "tensor_0", "is_param": False, "use_pickle": True,
                                          "tensor_meta": None})
        return data
    return _rewrite(plain, dest, change, {"data/constants/tensor_0": _torch_saved(_Payload(marker))})


def _object(prefix: str) -> Callable[[Path, Path, Path], Path]:
    def build(plain: Path, dest: Path, marker: Path) -> Path:
        def change(name: str, data: bytes) -> bytes:
            if name.endswith("data/constants/model_constants_config.json"):
                return _config(data, "evil", {"path_name": f"{prefix}0", "is_param": False, "use_pickle": True,
                                              "tensor_meta": None})
            return data
        return _rewrite(plain, dest, change, {f"data/constants/{prefix}0": pickle.dumps(_Payload(marker))})
    return build


HOSTILE = {
    "pickled-weight": (_pickled_weight, "a pickled weight 'conv.weight'"),
    "pickled-constant": (_pickled_constant, "a pickled constant 'evil'"),
    "custom-object": (_object("custom_obj_"), "a custom (TorchScript-bound) object 'evil'"),
    "opaque-object": (_object("opaque_obj_"), "an opaque Python object 'evil'"),
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _plain(tmp_path_factory.mktemp("pt2") / "plain.pt2")


def _torch_loads(path: Path) -> subprocess.CompletedProcess:
    code = "import sys, torch\ntry:\n    torch.export.load(sys.argv[1])\nexcept Exception:\n    pass\n"
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)


def test_a_plain_program_is_admitted(plain: Path) -> None:
    pt2_guard.check(plain)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_pt2_is_refused_before_torch_opens_it(kind: str, plain: Path, tmp_path: Path) -> None:
    build, what = HOSTILE[kind]
    marker = tmp_path / "control-marker"
    hostile = build(plain, tmp_path / f"{kind}.pt2", marker)
    if kind != "custom-object":  # TorchScript's own unpickler fails on a Python pickle before the payload runs
        _torch_loads(hostile)
        assert marker.exists(), f"control: torch.export.load of {hostile.name} should run its payload"
        marker.unlink()
    from ptq_helpers.backends.pytorch import torch_graph

    with pytest.raises(AssetError) as refused:
        torch_graph.load_program(hostile)
    message = str(refused.value)
    assert message.startswith(f"{hostile}: refused before loading: it holds {what}") and "\n" not in message
    assert "torch.export.save" in message and not marker.exists()


def test_pytest_refuses_a_hostile_model_in_one_line_and_runs_nothing(plain: Path, tmp_path: Path,
                                                                      ptq_session) -> None:
    marker = tmp_path / "marker"
    hostile = _pickled_weight(plain, tmp_path / "mine.pt2", marker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(RESNET8_PTQ_CACHE=str(tmp_path / "cache"), RESNET8_PTQ_ASSETS=str(ptq_session.settings.assets.root))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--ptq-model={hostile}",
                           "-k", "ort-fp32"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if "refused before loading" in line]
    assert proc.returncode == 4 and len(said) == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert str(hostile) in said[0] and "pickled weight 'conv.weight'" in said[0] and "Traceback" not in proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("entry, data, what", [
    ("data/aotinductor/model/model.so", b"\x7fELF", "a compiled package"),
    ("data/weights/model.pt", b"legacy", "a legacy pickled weights/constants file"),
])
def test_compiled_and_legacy_entries_are_refused(entry: str, data: bytes, what: str, plain: Path,
                                                 tmp_path: Path) -> None:
    hostile = _rewrite(plain, tmp_path / "extra.pt2", lambda name, d: d, {entry: data})
    with pytest.raises(pt2_guard.UnsafeArchive, match=f"it holds {what}"):
        pt2_guard.check(hostile)


def test_an_expression_sympy_would_evaluate_is_refused(plain: Path, tmp_path: Path) -> None:
    """torch's deserializer passes expr_str to sympy.sympify, which evaluates Python."""
    def change(name: str, data: bytes) -> bytes:
        if name.endswith("models/model.json"):
            return data.replace(b"Symbol('s", b"__import__('os').getcwd() or Symbol('s", 1)
        return data
    hostile = _rewrite(plain, tmp_path / "expr.pt2", change)
    assert b"__import__" in zipfile.ZipFile(hostile).read(
        next(n for n in zipfile.ZipFile(hostile).namelist() if n.endswith("models/model.json")))
    with pytest.raises(pt2_guard.UnsafeArchive, match="a symbolic shape expression sympy would evaluate"):
        pt2_guard.check(hostile)


def test_a_node_calling_outside_the_operator_namespaces_is_refused(plain: Path, tmp_path: Path) -> None:
    """A node target is resolved by getattr from `torch` and called when the program runs (torch.os.system)."""
    def change(name: str, data: bytes) -> bytes:
        if name.endswith("models/model.json"):
            return data.replace(b'"torch.ops.aten.mean.dim"', b'"torch.os.system"', 1)
        return data
    hostile = _rewrite(plain, tmp_path / "call.pt2", change)
    with pytest.raises(pt2_guard.UnsafeArchive, match="a graph node calling 'torch.os.system'"):
        pt2_guard.check(hostile)


def test_sample_inputs_that_import_anything_but_tensors_are_refused(plain: Path, tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        if name.endswith("data/sample_inputs/model.pt"):
            return _torch_saved(((_Payload(tmp_path / "never"),), {}))
        return data
    hostile = _rewrite(plain, tmp_path / "inputs.pt2", change)
    with pytest.raises(pt2_guard.UnsafeArchive, match="sample inputs whose pickle calls io.open"):
        pt2_guard.check(hostile)
