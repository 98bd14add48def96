"""The Arm targets (arm64-a72, arm64-n1, arm64-max): how their children start, and the emulator guard.

A child is `qemu-aarch64 -cpu <cpu> -L <cpu root> <userland>/usr/bin/python3.11 -S -m ptq_helpers.targets.child`
(ptq_helpers.targets.arm_setup prepares the userland on first use or by command). Emulation is where a wrong
number can come from without any quantization change (qemu 7.2's `-cpu max` runs XNNPACK's SME kernels
wrongly), so every Arm evaluation is guarded:

* the fp32 probe: the case's fp32 model on PROBE_PER_CLASS images of each class (the first ones of the test
  split, 200 in all) on the target must match the host's fp32 probabilities within float rounding
  (PROBE_ATOL, and the same top-1 wherever the host's top-2 margin exceeds it). It then stands for the full fp32
  evaluation (~25 min per core under emulation): the drop of an Arm build is gated against the HOST's fp32;
* the outputs of the build itself must be probabilities (finite, rows summing to 1 within int8 output rounding, 0.05)
and agree with the host's
  top-1 of the same build on at least MIN_PROBE_AGREEMENT of the probe images (287 of 10,000 differ
  between x86 AVX2 and Cortex-A72 for ort-int8-qdq; qemu's SME fault agrees on ~11%).
Either failure is a TargetError "emulator or runtime fault on <target>", raised before anything is cached.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ptq_helpers.matrix.cases import Case
from ptq_helpers.targets import arm_setup
from ptq_helpers.targets.base import Request, Target, TargetError
from ptq_helpers.targets.children import predict
from ptq_helpers.targets.host import HOST

_ARM = dict(evaluation="emulated", evaluator="ptq_helpers.targets.arm64:evaluate_guarded", baseline=HOST,
            reference_kernels="LiteRT default (XNNPACK), aarch64", arch="aarch64",
            formats=frozenset({"onnx", "qdq", "qoperator", "tflite"}), required_flags=("asimd",),
            launcher="ptq_helpers.targets.arm64:launch", runner_label="in the Debian arm64 CPython 3.11 userland",
            libraries=("ai-edge-litert", "onnxruntime"),
            code=("ptq_helpers.targets.arm64", "ptq_helpers.targets.arm_cpu", "ptq_helpers.targets.arm_setup"))
_ARM_TEXT = ("ONNX Runtime and LiteRT (XNNPACK) aarch64 wheels of the host's versions under qemu-aarch64 -cpu {}; "
             "ONNX and .tflite builds, gated against the host's fp32 after an fp32 probe on the target")
# Why OpenVINO and PyTorch builds are not run on the Arm targets (the measurements: docs/arm.md).
_OV_ON_ARM = ("not run: OpenVINO's aarch64 wheel runs under qemu-aarch64, but at hours per 10,000 images per emulated "
              "core, beyond a gate's budget (docs/arm.md); measure OpenVINO on Arm hardware")
_TORCH_ON_ARM = ("not run: PyPI's torch aarch64 wheel is the CUDA build, which does not import under qemu-aarch64, and "
                 "the CPU-only aarch64 wheel is on download.pytorch.org, which this project's machines cannot reach "
                 "(docs/arm.md)")
_ARM["not_run"] = {"ir": _OV_ON_ARM, "torchscript": _TORCH_ON_ARM, "pt2": _TORCH_ON_ARM}
ARM64_A72 = Target("arm64-a72", "an Arm Cortex-A72 (Armv8.0-A NEON, no dot-product): " + _ARM_TEXT.format("cortex-a72"),
                   qemu_cpu="cortex-a72", forbidden_flags=("asimddp", "i8mm", "sve"), cpu_model="Cortex-A72", **_ARM)
ARM64_N1 = Target("arm64-n1", "an Arm Neoverse-N1 (Armv8.2-A, dot-product, no i8mm/SVE): " + _ARM_TEXT.format(
                  "neoverse-n1"), qemu_cpu="neoverse-n1", forbidden_flags=("i8mm", "sve"), cpu_model="Neoverse-N1",
                  **{**_ARM, "required_flags": ("asimd", "asimddp")})
# SME off: qemu 7.2 runs XNNPACK's SME kernels wrongly (docs/arm.md).
ARM64_MAX = Target("arm64-max",
                   "qemu's `max` Arm CPU (Armv9-class: dot-product, i8mm, SVE2; SME off): " + _ARM_TEXT.format(
                   "max,sme=off"), qemu_cpu="max,sme=off", forbidden_flags=("sme",),
                   **{**_ARM, "required_flags": ("asimd", "asimddp", "i8mm", "sve2")})
TARGETS = (ARM64_A72, ARM64_N1, ARM64_MAX)

PROBE_PER_CLASS = 20
PROBE_ATOL = 1e-3  # probabilities: float32 rounding across kernels (NEON vs AVX2 FMA order) stays below 1e-5
MIN_PROBE_AGREEMENT = 0.9
FAULT = "emulator or runtime fault on {}"


def launch(target: Target, cache: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """The command prefix (emulator, CPU, root, foreign python) and environment of the target's children."""
    cache = cache or arm_setup.default_cache()
    try:
        root, _ = arm_setup.cpu_root(cache, str(target.qemu_cpu))
    except arm_setup.ArmSetupError as exc:
        raise TargetError(f"target {target.name}: {exc}") from None
    folder = arm_setup.home(cache)
    python = folder / "root" / arm_setup.PYTHON
    return ([str(arm_setup.qemu_aarch64()), "-cpu", str(target.qemu_cpu), "-L", str(root), str(python), "-S"],
            arm_setup.guest_env(folder))


def probe_indices(labels: np.ndarray, per_class: int = PROBE_PER_CLASS) -> np.ndarray:
    """The first `per_class` test images of every class, in test-split order (fixed, stratified)."""
    labels = np.asarray(labels)
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.argmax(1) == b.argmax(1)))


def _span(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return f"{finite.min():.3g}..{finite.max():.3g}" if finite.size else "nan"


def check_probabilities(target: Target, what: str, probs: np.ndarray) -> None:
    """Garbage is not a quantization result: non-finite values or rows that are no distribution are a fault."""
    rows = probs.sum(axis=1) if probs.ndim == 2 else np.array([np.nan])
    if not np.isfinite(probs).all() or (probs < -1e-6).any() or not np.allclose(rows, 1.0, atol=0.05):
        raise TargetError(f"{FAULT.format(target.name)}: {what} gave outputs that are not probabilities (rows sum to "
                          f"{_span(rows)}, finite: {bool(np.isfinite(probs).all())}); "
                          f"this is not a quantization regression")


def check_fp32_probe(target: Target, target_probs: np.ndarray, host_probs: np.ndarray) -> dict[str, Any]:
    """The fp32 model on the target equals the host's within float rounding, or the emulator/runtime is faulty."""
    check_probabilities(target, "the fp32 probe", target_probs)
    diff = float(np.abs(target_probs - host_probs).max())
    top2 = np.sort(host_probs, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > PROBE_ATOL
    flips = int(np.sum((target_probs.argmax(1) != host_probs.argmax(1)) & clear))
    if diff > PROBE_ATOL or flips:
        raise TargetError(f"{FAULT.format(target.name)}: the fp32 model on {len(host_probs)} probe images differs from "
                          f"the host's beyond float rounding (max |dp| = {diff:.3g} > {PROBE_ATOL}, {flips} clear "
                          f"top-1 changes); this is not a quantization regression")
    return {"images": len(host_probs), "max_abs_diff": float(f"{diff:.3g}"),
            "top1_agreement": round(_agreement(target_probs, host_probs), 4)}


def check_build(target: Target, case: Case, probs: np.ndarray, host_probs: np.ndarray | None,
                idx: np.ndarray) -> dict[str, Any]:
    """The build's own outputs on the target: probabilities, and mostly the host's top-1 on the probe images."""
    check_probabilities(target, case.id, probs)
    if host_probs is None:
        return {}
    agree = _agreement(probs[idx], host_probs[idx])
    if agree < MIN_PROBE_AGREEMENT:
        raise TargetError(f"{FAULT.format(target.name)}: {case.id} agrees with its host top-1 on only {agree:.1%} of "
                          f"the {len(idx)} probe images (at least {MIN_PROBE_AGREEMENT:.0%} expected from kernel "
                          f"differences); this is not a quantization regression")
    return {"probe_top1_agreement_int8": round(agree, 4)}


def evaluate(case: Case, target: Target, model: Path, images_npy: Path, n_images: int, workdir: Path, *,
             fp32_case: Case, fp32_model: Path, host_fp32_probs: np.ndarray, labels: np.ndarray,
             host_probs: np.ndarray | None = None, cache: Path | None = None, workers: int | None = None,
             probabilities: Callable[[np.ndarray], np.ndarray] = lambda out: out) -> tuple[np.ndarray, dict[str, Any]]:
    """A guarded Arm evaluation: the fp32 probe first, then the build on images_npy[:n_images]; the facts say
    that the drop is gated against the host's fp32 and what the probe showed. The children's outputs are read
    as probabilities by `probabilities` (the model's contract: softmax of logits). Raises TargetError on a fault."""
    idx = probe_indices(labels[:n_images])
    images = np.load(images_npy, mmap_mode="r")
    workdir.mkdir(parents=True, exist_ok=True)
    probe_npy = workdir / "probe-images.npy"
    np.save(probe_npy, np.asarray(images[idx], dtype=np.float32))
    if case.id == fp32_case.id:  # the fp32 build itself: the probe is its evaluation on the target
        fp32_probs, facts = predict(fp32_case, target, fp32_model, probe_npy, len(idx), 1, workdir / "probe",
                                    workers, cache)
        fp32_probs = probabilities(fp32_probs)
        probe = check_fp32_probe(target, fp32_probs, host_fp32_probs[idx])
        probs = host_fp32_probs[:n_images].copy()  # the probe-validated host fp32 stands for the full evaluation
    else:
        fp32_probs, _ = predict(fp32_case, target, fp32_model, probe_npy, len(idx), 1, workdir / "probe", workers,
                                cache, executed=False)
        probe = check_fp32_probe(target, probabilities(fp32_probs), host_fp32_probs[idx])
        probs, facts = predict(case, target, model, images_npy, n_images, 1, workdir / "build", workers, cache)
        probs = probabilities(probs)
        probe.update(check_build(target, case, probs, host_probs, idx))
    facts = {**facts, "probe": probe, "fp32_baseline": "host",
             "fp32_note": f"{fp32_case.id} agrees with the host within float rounding on {len(idx)} probe images "
                          f"({PROBE_PER_CLASS} per class); the drop is gated against the host's {fp32_case.id}"}
    if case.id == fp32_case.id:
        facts["fp32_probe_only"] = True
    return probs, facts


if __name__ == "__main__":  # the facts of every Arm target's CPU, as the children see them
    for target in TARGETS:
        print(target.name, json.dumps(arm_setup.cpu_root(arm_setup.default_cache(), str(target.qemu_cpu))[1]))


def evaluate_guarded(target: Target, request: Request) -> tuple[np.ndarray, dict[str, Any]]:
    """An Arm evaluation behind the fp32 probe (docs/arm.md): the fp32 model on a stratified subset must agree with
    the host's fp32 before the build's numbers count; the drop is gated against the host's fp32."""
    from ptq_helpers.core.progress import say

    case = request.case
    say(f"{request.label}: evaluating {len(request.labels):,} images on target {target.name} ({target.how(case)}) ...")
    fp32, fp32_model, host_fp32 = request.baseline()
    host_own = None if case.is_fp32 else request.host_probs()
    probs, facts = evaluate(case, target, request.model, request.images_npy(), len(request.labels), request.workdir,
                            fp32_case=fp32, fp32_model=fp32_model, host_fp32_probs=host_fp32, labels=request.labels,
                            host_probs=host_own, cache=request.cache, probabilities=request.probabilities)
    say(f"{request.label}: evaluated in {facts['wall_s']:.0f} s ({facts['children']} child processes)")
    return probs, facts
