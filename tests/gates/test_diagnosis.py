"""Per-layer diagnosis: where the worst ONNX Runtime QDQ model of the run loses its accuracy."""
from __future__ import annotations

import math

import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained

pytestmark = pytest.mark.real
IMAGES = 200


def test_per_layer_sqnr_of_the_worst_ort_qdq_model(ptq_store, test_split, ptq_session) -> None:
    # not the emulated 16-bit-activation / 4-bit-weight rows: their Q/DQ nodes are in the com.microsoft domain, whose
    # outputs ORT's qdq_loss_debug gets no type for and so never saves (no activation could be matched)
    chosen = [c for c in cases.selected(ptq_store.settings.matrix) if c in cases.QUANTIZED
              and c.framework == "onnxruntime" and c.quant.quant_format == "QDQ" and not c.emulated]
    worst = min(chosen, key=lambda c: explained(lambda: ptq_store.result(c)).metrics.accuracy)
    result = ptq_store.result(worst)
    rows = explained(lambda: ptq_store.diagnosis(worst, IMAGES))
    compared = [r for r in rows if r["vs_fp32_sqnr_db"] is not None]
    assert compared, f"{worst.id}: no activation could be matched to the fp32 model"
    assert all(math.isfinite(r["vs_fp32_sqnr_db"]) for r in compared)
    ptq_session.results.set_diagnosis({"model": worst.id, "accuracy": result.metrics.accuracy, "images": IMAGES,
                                       "rows": rows})
