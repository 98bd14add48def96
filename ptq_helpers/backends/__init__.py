"""The registry: the runtime wings, the only place that lists them.

A wing is a sub-package `ptq_helpers.backends.<runtime>` that declares the `Wing` protocol (ptq_helpers.backends.wing):
its `Framework` entries, the formats its files are saved in and its rows of the matrix. Registering imports no ML
library: the entries name their builders, runners and facts by dotted path, resolved when a model is built or run.
Adding a runtime is its wing plus its line in `WINGS`; a conftest may register more (tests/selftest: the toy
framework).
"""
from __future__ import annotations

from ptq_helpers.backends import executorch, litert, onnxruntime, openvino, pytorch
from ptq_helpers.backends.wing import ProgramExporter, Wing
from ptq_helpers.matrix.cases import add, register

WINGS: tuple[Wing, ...] = (onnxruntime, pytorch, litert, openvino, executorch)

for _wing in WINGS:
    for _framework in _wing.FRAMEWORKS:
        register(_framework, _wing.FORMATS)
add(*(case for wing in WINGS for case in wing.CASES))

# A .pt2 for the converters that take one (LiteRT through litert-torch) when the model was given as ONNX.
PROGRAM_EXPORTER = ProgramExporter("ptq_helpers.backends.pytorch.torch_graph:export_program",
                                   ("torch", "onnx2torch", "onnx"))


def wing_modules() -> tuple[str, ...]:
    """The package names of the registered wings (`python -m ptq_helpers.backends` runs only their modules)."""
    return tuple(wing.__name__ for wing in WINGS)  # type: ignore[attr-defined]
