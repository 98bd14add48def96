"""One typed record per measured model; every derived fact is computed here, once. JSON is its serialisation.

A record is self-describing: the writer (the store) copies what a reader needs to know of its framework, format
and target (labels, size kind, tools) into it, so a results JSON reads without the registry that wrote it (a
framework a conftest registered, say). Files written before those fields existed read with the raw ids as labels.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from ptq_helpers.results.executed import Executed, of as executed_of


@dataclass(frozen=True)
class PairedStats:
    """A quantized model against its fp32 baseline on the same images (see stats.compare)."""

    agreement: float
    only_fp32_correct: int
    only_quantized_correct: int
    mcnemar_p: float
    diff_ci_low: float
    diff_ci_high: float
    bootstrap_resamples: int
    bootstrap_seed: int
    diff_one_sided_low: float | None = None  # 5th percentile of the bootstrap Δ: the one-sided 95% bound
    class_mcnemar_p: tuple[float, ...] = ()  # per class (its 1,000 images), McNemar exact two-sided
    class_diff_one_sided_low: tuple[float, ...] = ()  # per class, 5th percentile of the paired bootstrap Δ


@dataclass(frozen=True)
class TargetAgreement:
    """Top-1 of one build on a deployment target against the same build on the host."""

    agreement: float  # percent of images with the same top-1
    differing: int  # images whose top-1 differs
    differing_by_class: tuple[int, ...] = ()  # of those, per true class

    @classmethod
    def of(cls, host_pred: Any, target_pred: Any, labels: Any) -> TargetAgreement:
        import numpy as np

        same = host_pred == target_pred
        by_class = np.bincount(labels[~same], minlength=10)
        return cls(round(100.0 * float(same.mean()), 4), int((~same).sum()), tuple(int(n) for n in by_class))


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


@dataclass(frozen=True)
class ModelRecord:
    """What one model measured on the test images; `base` is its framework's fp32 record (not serialised)."""

    id: str
    framework: str
    dtype: str
    format: str
    baseline_id: str
    correct: int
    total: int
    accuracy: float
    per_class: tuple[float, ...]
    size_bytes: int
    sha256: str
    predictions_sha256: str
    quant: Mapping[str, Any] | None
    stats: PairedStats | None = None
    target: str = "host"
    vs_host: TargetAgreement | None = None  # the same build on the host (targets other than host)
    runtime: Mapping[str, Any] | None = None  # facts the runtime reports about how it ran the model (strings, and
    # "executed": which layers run as integer kernels, see results.executed)
    hits: str | None = None  # per test image 1 = correct, np.packbits as hex: paired comparisons across runs
    predictions: str = ""  # per test image the predicted class, uint8 in base64 (encode_classes), in the order of
    # the JSON's `images` entry: which images flipped between runs, where targets and builds disagree
    # What a reader needs of the registry, as the writer's registry had it ("" when unknown: see __post_init__).
    framework_label: str = ""  # e.g. "ONNX Runtime"
    dtype_label: str = ""  # e.g. "float32"
    format_label: str = ""  # e.g. "ONNX (QDQ)"
    size_kind: str = ""  # which size-reduction limit applies: thresholds' `min_size_reduction_<size_kind>`
    framework_tools: str = ""  # how the framework quantizes, for the report's methodology
    target_description: str = ""  # what the target is, e.g. "this machine's CPU, in the test process"
    baseline_target: str = ""  # where its fp32 baseline was measured when not on its own target (Arm: "host")
    cpu: str = ""  # the CPU the predictions came from, e.g. "AMD EPYC: avx2 (no avx512f, ...)" (failures name it)
    base: ModelRecord | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Fill what an older file (or a hand-made record) left out: the raw ids stand in for the labels."""
        fallback = {"framework_label": self.framework, "dtype_label": self.dtype, "format_label": self.format,
                    "size_kind": _LEGACY_SIZE_KINDS.get(self.framework, self.framework)}
        for name, value in fallback.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    @property
    def key(self) -> str:
        """Test id and record key: the case id on the host, `<case>@<target>` elsewhere."""
        return self.id if self.target == "host" else f"{self.id}@{self.target}"

    @property
    def where(self) -> str:
        """The record's key and the CPU it was measured on, as failure messages start."""
        return f"{self.key} (on {self.cpu})" if self.cpu else self.key

    @property
    def is_fp32(self) -> bool:
        return self.dtype == "fp32"

    @cached_property
    def executed(self) -> Executed | None:
        """Which compute layers the runtime runs as integer kernels and which in float (None: not asked)."""
        return executed_of(self.runtime)

    @property
    def size_threshold(self) -> str:
        """The size kind (older name)."""
        return self.size_kind

    @property
    def label(self) -> str:
        """e.g. 'ONNX Runtime int8 (`ort-int8-qdq`)'."""
        return f"{self.framework_label} {self.dtype_label} (`{self.key}`)"

    @property
    def compared(self) -> bool:
        """A quantized record with its fp32 baseline at hand: drop, reduction and class drops exist."""
        return not self.is_fp32 and self.base is not None

    @cached_property
    def drop(self) -> float:
        """Top-1 points lost vs the baseline (negative: gained); nan without a baseline."""
        return self.base.accuracy - self.accuracy if self.compared else float("nan")

    @cached_property
    def size_reduction(self) -> float:
        """Percent smaller than the baseline's file; nan without a baseline."""
        return 100.0 * (1 - self.size_bytes / self.base.size_bytes) if self.compared else float("nan")

    @cached_property
    def class_drops(self) -> tuple[float, ...]:
        """Per class, points lost vs the baseline (empty without one)."""
        return tuple(b - q for q, b in zip(self.per_class, self.base.per_class)) if self.compared else ()

    @cached_property
    def worst_class(self) -> int:
        """Index of the class with the largest drop (first on ties)."""
        return max(range(len(self.class_drops)), key=self.class_drops.__getitem__)

    def with_base(self, base: ModelRecord | None) -> ModelRecord:
        return replace(self, base=base)

    def correct_mask(self) -> Any:
        """Per test image, whether this model got it right (from `hits`), or None when the record has none."""
        import numpy as np

        if not self.hits:
            return None
        return np.unpackbits(np.frombuffer(bytes.fromhex(self.hits), np.uint8))[:self.total].astype(bool)

    def predicted(self) -> Any:
        """Per test image the predicted class (uint8), or None when the record has none (an older file)."""
        return decode_classes(self.predictions, self.total) if self.predictions else None

    @property
    def settings(self) -> str:
        """The quantization settings as the report lists them. For PyTorch FX the `reduce_range` field is unused
        (it is PT2E's): the engine's default QConfig decides, and for fbgemm and x86 that is 7-bit activations."""
        q = dict(self.quant or {})
        if not q:
            return "fp32 (no quantization)"
        if q.get("flow") == "fx":
            q.pop("reduce_range", None)
            q["qconfig"] = ("engine default: activations quint8 per-tensor (HistogramObserver, reduce_range=True: "
                            "7-bit), weights qint8 per-channel symmetric")
        return ", ".join(f"{k}={v}" for k, v in q.items())

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NESTED}
        out["per_class"] = list(self.per_class)
        out["quant"] = dict(self.quant) if self.quant is not None else None
        out["runtime"] = dict(self.runtime) if self.runtime is not None else None
        if self.stats is not None:
            out["stats"] = asdict(self.stats)
        if self.vs_host is not None:
            out["vs_host"] = asdict(self.vs_host)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelRecord:
        values = {f.name: data[f.name] for f in fields(cls) if f.name not in _NESTED and f.name in data}
        values["per_class"] = tuple(data["per_class"])
        stats, vs_host = data.get("stats"), data.get("vs_host")
        if stats:
            stats = {**stats, **{k: tuple(stats[k]) for k in ("class_mcnemar_p",
                                                              "class_diff_one_sided_low") if k in stats}}
        return cls(**values, stats=PairedStats(**stats) if stats else None,
                   vs_host=TargetAgreement(**{**vs_host, "differing_by_class": tuple(vs_host["differing_by_class"])})
                   if vs_host else None)


_NESTED = ("stats", "vs_host", "base")


def encode_classes(classes: Any) -> str:
    """Class indices (0..255) as base64 of one uint8 per image: 13,336 characters for the 10,000 test images."""
    import base64

    import numpy as np

    return base64.b64encode(np.asarray(classes, dtype=np.uint8).tobytes()).decode("ascii")


def decode_classes(text: str, n: int) -> Any:
    """The inverse of encode_classes; ValueError when the text does not hold `n` classes."""
    import base64
    import binascii

    import numpy as np

    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"predicted classes are not base64 ({exc})") from None
    if len(raw) != n:
        raise ValueError(f"{len(raw)} predicted classes for {n} images")
    return np.frombuffer(raw, dtype=np.uint8)

# The size kinds of the frameworks that existed before records carried `size_kind` (results files of schema 1
# written until then): what those files meant, frozen here; a record with `size_kind` never looks at it.
_LEGACY_SIZE_KINDS = {"onnxruntime": "onnx", "pytorch": "torch", "litert": "tflite", "openvino": "onnx"}


def linked(records: Iterable[ModelRecord]) -> dict[str, ModelRecord]:
    """Records by key, each quantized one linked to its baseline (on the same target, or where the record says it
    was gated: `baseline_target`), so derived facts exist."""
    by_key = {r.key: r for r in records}

    def base_of(r: ModelRecord) -> ModelRecord | None:
        where = r.baseline_target or r.target  # an Arm build is gated against the probe-checked host fp32
        return by_key.get(r.baseline_id if where == "host" else f"{r.baseline_id}@{where}")

    return {key: r if r.is_fp32 else r.with_base(base_of(r)) for key, r in by_key.items()}


def load_all(models: Iterable[Mapping[str, Any]]) -> dict[str, ModelRecord]:
    """The 'models' list of a results JSON, as linked records."""
    return linked(ModelRecord.from_json(m) for m in models)


def by_model(records: Mapping[str, ModelRecord]) -> dict[str, dict[str, ModelRecord]]:
    """Model id -> target -> record, models in the order the mapping first names them (the writer's matrix
    order), per model the host first and then the other targets in that order."""
    groups: dict[str, dict[str, ModelRecord]] = {}
    for r in records.values():
        groups.setdefault(r.id, {})[r.target] = r
    return {mid: dict(sorted(g.items(), key=lambda item: item[0] != "host")) for mid, g in groups.items()}


def in_matrix_order(records: Mapping[str, ModelRecord]) -> list[ModelRecord]:
    """Records grouped by model (see by_model)."""
    return [r for group in by_model(records).values() for r in group.values()]


def targets_in(records: Mapping[str, ModelRecord]) -> tuple[str, ...]:
    """The targets the records were measured on, the host first, then in the order the records name them."""
    return tuple(sorted(dict.fromkeys(r.target for r in records.values()), key=lambda t: t != "host"))
