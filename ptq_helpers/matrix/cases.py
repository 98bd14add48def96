"""The registry of the model matrix: frameworks (each declares everything the rest of the suite needs), their
model formats and size kinds, and the cases every fixture, test, benchmark and report row comes from.

This module is a leaf: it knows no framework. Each backend module declares its `Framework` entry beside its
implementation, and ptq_helpers.backends (the catalog) registers them with the matrix rows; a conftest may
register more (tests/selftest: the toy framework). Builders and runners are named by dotted path and resolved
only when a model is built or run, so registering imports no ML library.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ptq_helpers.matrix.options import Option

DType = Literal["fp32", "int8", "uint8", "u8s8", "bf16", "a16w8", "w4a8", "w4w8a8"]
DTYPE_LABELS = {"fp32": "float32", "int8": "int8", "uint8": "uint8", "u8s8": "uint8 act/int8 wt",
                "bf16": "bfloat16 (run time)", "a16w8": "int16 act/int8 wt", "w4a8": "int8 act/int4 wt",
                "w4w8a8": "int8 act/int4+int8 wt"}


def resolve(dotted: str) -> Callable[..., Any]:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Format:
    """A serialized model format: file suffix and how the report names it."""

    suffix: str
    label: str


@dataclass(frozen=True)
class SizeKind:
    """Which size-reduction limit applies to a framework's files: option `--ptq-min-size-reduction-<name>`, ini
    key `ptq_min_size_reduction_<name>`, `default` percent."""

    name: str
    label: str  # what is compared, for the option's help: "ONNX file", "TorchScript file", ...
    default: float

    @property
    def flag(self) -> str:
        return f"--ptq-min-size-reduction-{self.name}"


ONNX_SIZE = SizeKind("onnx", "ONNX file", 55.0)


@dataclass(frozen=True)
class NoOp:
    """A setting whose `values` give the same model and answers on a CPU that has none of the `unless` flags (so
    identical outputs for them are expected there, not a sign that a setting was ignored)."""

    setting: str
    values: tuple[str, ...]
    unless: tuple[str, ...]  # CPU flags (core.isa names) with which the values differ
    why: str


@dataclass(frozen=True)
class Framework:
    """A backend: how its models are built and run, and everything the rest of the suite needs to know of it.

    build(case, fp32_source, calibration_images, dest, **options) writes a quantized model (cases whose
    `needs_validation` also get `validation=(images, labels)` from held-out training images); `options` are the
    run's values of the framework's own `options`, by dest. build_fp32(source, dest) writes the fp32 model (None:
    the fp32 model is the source ONNX file itself); run(case, path, threads) returns `run(images NHWC float32)
    -> probabilities`.
    """

    name: str
    label: str
    prefix: str  # case ids start with it; `<prefix>-fp32` is the baseline
    build: str  # "module:function"
    run: str
    build_fp32: str | None = None
    size_kind: SizeKind = ONNX_SIZE
    tools: str = ""  # how its models are quantized, for the report's methodology
    # which fp32 model its builders start from: the ONNX file; the Keras .h5; "torch": a --ptq-model .pt2 itself,
    # else the ONNX file (builders that make a torch module of either)
    source: Literal["onnx", "h5", "torch"] = "onnx"
    needs: tuple[tuple[str, str], ...] = ()  # (module, pip extra) its builder and runner import
    runtime_facts: str | None = None  # "module:function" (case, path) -> {fact: value}, asked of the runtime
    # "module:function" (source path) -> why its builders cannot start from that source here (a skip reason naming
    # the fix, e.g. a converter environment to prepare), or None
    unready: str | None = None
    libraries: tuple[str, ...] = ()  # distributions whose versions shape its models and predictions (cache keys)
    options: tuple[Option, ...] = ()  # its own settings (--ptq-* options and ini keys), passed to its builder
    code: tuple[str, ...] = ()  # further modules whose source shapes its models or predictions
    noops: tuple[NoOp, ...] = ()  # settings that are the same thing on some CPUs
    # "module:function"(case, fp32 source, model, images) -> per-layer rows: where a build loses accuracy, layer by
    # layer (its wing's layers.py), or None when the wing does not measure it
    layers: str | None = None
    # "module:function"() -> None: re-creates, in a child process, the cases a run added to the matrix (a child
    # looks its case up by id), or None
    run_cases: str | None = None
    # "module:function"(store, thresholds, run options) -> (what the results JSON says of it or None, the cases it
    # adds to the run): a step the session runs when it starts, before collection (e.g. --ptq-search=size)
    run_step: str | None = None

    def missing(self) -> str | None:
        """A skip reason naming the extra to install when a module it needs is absent, else None."""
        from importlib.util import find_spec

        absent = [(m, extra) for m, extra in self.needs if find_spec(m) is None]
        if not absent:
            return None
        return (f"{self.label} needs {', '.join(m for m, _ in absent)}: "
                f"pip install -e '.[{','.join(dict.fromkeys(e for _, e in absent))}]'")

    def builder(self) -> Callable[..., None]:
        return resolve(self.build)

    def fp32_builder(self) -> Callable[..., None] | None:
        return resolve(self.build_fp32) if self.build_fp32 else None

    def runner(self) -> Callable[..., Any]:
        return resolve(self.run)

    @property
    def size_threshold(self) -> str:
        """The name of its size kind."""
        return self.size_kind.name

    @property
    def code_modules(self) -> tuple[str, ...]:
        """Modules whose source is part of its models' cache key (the builders and `code`)."""
        return tuple(dict.fromkeys([*(d.partition(":")[0] for d in (self.build, self.build_fp32) if d), *self.code]))

    @property
    def runner_modules(self) -> tuple[str, ...]:
        """Modules whose source is part of its predictions' cache key (the runner, runtime facts and `code`)."""
        return tuple(dict.fromkeys([*(d.partition(":")[0] for d in (self.run, self.runtime_facts) if d), *self.code]))


FRAMEWORKS: dict[str, Framework] = {}
FORMATS: dict[str, Format] = {}
FRAMEWORK_LABELS: dict[str, str] = {}  # name -> label, kept in step with FRAMEWORKS by register()
SIZE_KINDS: dict[str, SizeKind] = {}  # name -> kind, from the registered frameworks


@dataclass(frozen=True)
class Case:
    """One model configuration of the matrix."""

    id: str
    framework: str  # a FRAMEWORKS key
    dtype: DType
    fmt: str  # a FORMATS key
    quant: Any = None  # the framework's own settings dataclass (frozen; asdict() is part of the cache key)
    unsupported: str | None = None  # reason, when the backend cannot build it
    matrix: Literal["seed", "mcu", "fast", "full"] = "seed"  # which --ptq-matrix runs it (MATRICES)

    @property
    def is_fp32(self) -> bool:
        return self.dtype == "fp32"

    @property
    def source(self) -> str:
        """Which fp32 model its builder starts from (Framework.source), unless its settings say otherwise."""
        return getattr(self.quant, "source", None) or self.backend.source

    @property
    def needs_validation(self) -> bool:
        """Its builder also takes held-out training images (disjoint from the calibration draw) with labels."""
        return bool(getattr(self.quant, "needs_validation", False))

    @property
    def emulated(self) -> str | None:
        """Why its runtime only emulates it on the CPU (accuracy only: not timed), as its settings declare, else
        None."""
        return getattr(self.quant, "emulated", None)

    @property
    def baseline_id(self) -> str:
        """The fp32 model of the same framework this case is compared against."""
        return f"{FRAMEWORKS[self.framework].prefix}-fp32"

    @property
    def backend(self) -> Framework:
        return FRAMEWORKS[self.framework]

    def spec(self) -> dict[str, Any]:
        """Everything about the case that changes its artifact (part of the cache key)."""
        spec = asdict(self)
        spec.pop("matrix")
        return spec

    def __str__(self) -> str:  # pytest uses it for ids
        return self.id


@dataclass(frozen=True)
class Build:
    """A case evaluated on a deployment target (a targets.TARGETS key); its str is the test id."""

    case: Case
    target: str = "host"

    def __str__(self) -> str:
        return self.case.id if self.target == "host" else f"{self.case.id}@{self.target}"


def register(framework: Framework, formats: Mapping[str, Format]) -> None:
    """Add a framework and the formats its models are saved in."""
    kind = SIZE_KINDS.get(framework.size_kind.name)
    if kind is not None and kind != framework.size_kind:
        raise ValueError(f"framework {framework.name}: size kind {kind.name!r} is already registered as {kind}")
    SIZE_KINDS[framework.size_kind.name] = framework.size_kind
    FRAMEWORKS[framework.name] = framework
    FRAMEWORK_LABELS[framework.name] = framework.label
    FORMATS.update(formats)


def add(*new: Case) -> None:
    """Append cases to the matrix (ids must be new; framework and format registered)."""
    taken = {c.id for c in CASES}
    bad = [c.id for c in new if c.id in taken or c.framework not in FRAMEWORKS or c.fmt not in FORMATS]
    if bad:
        raise ValueError(f"cases {', '.join(bad)}: id already in the matrix, or framework/format not registered")
    _index(CASES + tuple(new))


def _index(all_cases: tuple[Case, ...]) -> None:
    global CASES, BY_ID, BUILDABLE, FP32, QUANTIZED, UNSUPPORTED
    CASES = all_cases
    BY_ID = {c.id: c for c in CASES}
    BUILDABLE = tuple(c for c in CASES if c.unsupported is None)
    FP32 = tuple(c for c in BUILDABLE if c.is_fp32)
    QUANTIZED = tuple(c for c in BUILDABLE if not c.is_fp32)
    UNSUPPORTED = tuple(c for c in CASES if c.unsupported is not None)


CASES: tuple[Case, ...] = ()
BY_ID: dict[str, Case] = {}
BUILDABLE = FP32 = QUANTIZED = UNSUPPORTED = CASES

def add_run_cases() -> None:
    """In a child process: the cases the parent run added to the matrix (each framework's `run_cases`)."""
    for fw in tuple(FRAMEWORKS.values()):
        if fw.run_cases:
            resolve(fw.run_cases)()


def reference_case(suffix: str) -> Case:
    """The case whose runner evaluates a reference model file of this suffix (e.g. MLPerf's int8 .tflite): the
    first int8 case of the seed matrix saved in that format."""
    for case in CASES:
        if case.matrix == "seed" and case.dtype == "int8" and FORMATS[case.fmt].suffix == suffix.lstrip("."):
            return case
    raise KeyError(f"no int8 case of the seed matrix runs {suffix} files")


def libraries(matrix: str | None = None) -> tuple[str, ...]:
    """The distributions of every registered framework (their versions are part of every cache key), or of the
    frameworks of one matrix."""
    frameworks = FRAMEWORKS.values() if matrix is None else (FRAMEWORKS[c.framework] for c in selected(matrix))
    return tuple(dict.fromkeys(lib for fw in frameworks for lib in fw.libraries))


def options() -> tuple[Option, ...]:
    """The options every registered framework declares."""
    return tuple(opt for fw in FRAMEWORKS.values() for opt in fw.options)


def noops_on(flags: Mapping[str, bool]) -> list[dict[str, Any]]:
    """The registered frameworks' settings that are no-ops on a CPU with these flags, as JSON-ready dicts."""
    return [{"framework": fw.name, "setting": n.setting, "values": list(n.values), "why": n.why}
            for fw in FRAMEWORKS.values() for n in fw.noops if not any(flags.get(f) for f in n.unless)]


# --ptq-matrix value -> the case matrices it runs: "mcu" adds the micro-controller builds beyond int8 (16x8,
# litert-quantizer, emulated ORT A16W8/W4A8), one of which fails the default SRAM budget by design; "fast" adds the
# fast integer builds whose cold build and evaluation cost more than the seed gate's budget (compiled PyTorch,
# ExecuTorch); "full" adds every other row.
MATRICES = {"seed": ("seed",), "mcu": ("seed", "mcu"), "fast": ("seed", "fast"),
            "full": ("seed", "mcu", "fast", "full")}


def selected(matrix: str) -> tuple[Case, ...]:
    """The cases a run with `--ptq-matrix matrix` covers."""
    return tuple(c for c in CASES if c.matrix in MATRICES[matrix])


def get(case_id: str) -> Case:
    """Look a case up by id."""
    try:
        return BY_ID[case_id]
    except KeyError:
        raise KeyError(f"unknown case id {case_id!r}; known: {', '.join(BY_ID)}") from None
