"""The accuracy bar, measured on all 10,000 CIFAR-10 test images for every model of the matrix."""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix import cases
from ptq_helpers.data.contract import REFERENCE_WEIGHTS_SHA256, weights_sha256
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.store import ModelResult
from tests.fakes import passes

pytestmark = pytest.mark.real


def test_top1_above_minimum(model: ModelResult, ptq_thresholds: Thresholds, ptq_store) -> None:
    assert model.metrics.total == 10_000
    failure = gates.accuracy(model.record, ptq_thresholds)
    if failure and model.case.is_fp32:  # an fp32 model fed the wrong pixels scores near chance: say how it was fed
        failure += (f"; it was fed {ptq_store.settings.contract.describe()}: if that is not how the model was "
                    f"trained, set --ptq-input-layout/-scale/-mean/-std")
    passes(failure)


def test_drop_vs_own_fp32(quantized_model: ModelResult, ptq_thresholds: Thresholds) -> None:
    assert quantized_model.record.base.id == quantized_model.case.baseline_id
    passes(gates.drop(quantized_model.record, ptq_thresholds))


def test_no_class_drops_too_far(quantized_model: ModelResult, ptq_thresholds: Thresholds) -> None:
    assert sum(quantized_model.metrics.per_class_total) == 10_000
    passes(gates.class_drop(quantized_model.record, ptq_thresholds))


def test_fp32_baseline_pinned(fp32_model: ModelResult, ptq_thresholds: Thresholds) -> None:
    passes(gates.fp32_pinned(fp32_model.record, ptq_thresholds))


def test_the_fp32_model_is_the_reference_resnet8(ptq_store) -> None:
    """The fp32 pin (--ptq-fp32-correct) is MLPerf Tiny's ResNet8's: another model with as many right answers
    must not pass as it. A model given with --ptq-model is gated on its own fp32, and said to be (or not be) it."""
    s = ptq_store.settings
    weights = weights_sha256(ptq_store.source, s.cache)
    if s.assets.model is not None:
        assert s.reference == (weights == REFERENCE_WEIGHTS_SHA256), (s.reference, weights)
        return
    assert weights == REFERENCE_WEIGHTS_SHA256, (
        f"{ptq_store.source}: not the reference ResNet8 (weights sha256 {weights[:16]}…, expected "
        f"{REFERENCE_WEIGHTS_SHA256[:16]}…): the fp32 pin is that model's; restore MLPerf's resnet8.onnx, or gate "
        f"your own model deliberately with --ptq-model {ptq_store.source}")


def test_onnx2torch_matches_onnxruntime(ptq_store) -> None:
    """The PyTorch fp32 model (onnx2torch, TorchScript) computes what ONNX Runtime computes."""
    ort, torch = ptq_store.result(cases.get("ort-fp32")), ptq_store.result(cases.get("torch-fp32"))
    worst = float(np.abs(ort.probs - torch.probs).max())
    assert worst <= 1e-4, f"torch-fp32 vs ort-fp32: max |Δprob| {worst:.2e} > 1e-4"
    differ = int((ort.predictions != torch.predictions).sum())
    assert differ == 0, f"torch-fp32 vs ort-fp32: top-1 differs on {differ} of 10,000 images"


def test_openvino_fp32_matches_onnxruntime(ptq_store) -> None:
    """OpenVINO reads the same ONNX file; with the f32 hint it must compute what ONNX Runtime computes."""
    missing = cases.get("ov-fp32").backend.missing()
    if missing:
        pytest.skip(missing)
    ort, ov = ptq_store.result(cases.get("ort-fp32")), ptq_store.result(cases.get("ov-fp32"))
    same = int((ort.predictions == ov.predictions).sum())
    assert same >= 9_990, f"ov-fp32 vs ort-fp32: identical top-1 on {same} of 10,000 images (< 99.9%)"
    assert ov.record.runtime["inference precision"] == "f32", ov.record.runtime


def test_distinct_configurations_give_distinct_models(ptq_store, ptq_session) -> None:
    """A setting that silently has no effect (like Entropy calibration in quantize_static) shows up here; settings
    that are the same thing on this CPU (cases.NoOp, e.g. torch's x86 engine without AVX-512 VNNI) are expected."""
    from ptq_helpers.report import payload as results

    chosen = [c for c in cases.selected(ptq_store.settings.matrix) if c in cases.QUANTIZED
              and not ptq_store.unavailable(c)]  # skipped by their own tests, saying why
    records = {c.id: ptq_store.result(c).record for c in chosen}
    flagged = results.suspicious(records, ptq_session.cpu_noops())["models"]
    assert not flagged, "suspicious: " + "; ".join(flagged)
