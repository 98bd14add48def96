"""OpenVINO/NNCF on the real model: accuracy control forced to revert operations says what it reached, and a
saved IR does not depend on what the process built before."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from ptq_helpers.backends import evaluate
from ptq_helpers.backends.openvino import backend as openvino_backend
from ptq_helpers.backends.openvino.backend import OvQuant
from ptq_helpers.matrix import cases

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def openvino_present() -> None:
    missing = cases.get("ov-int8-nncf").backend.missing()
    if missing:
        pytest.skip(missing)


def test_accuracy_control_reverts_and_says_what_it_reached(openvino_present, ptq_store, train_split, tmp_path):
    """Validation images on which int8 is worse than fp32 and a max drop of 0 force NNCF to revert operations;
    the build records which ones (from NNCF's own summary) and the top-1 it reached, measured here."""
    plain = ptq_store.artifact(cases.get("ov-int8-nncf")).path
    fp32 = ptq_store.artifact(cases.get("ov-fp32")).path
    pool = np.setdiff1d(np.arange(5_000), ptq_store.calibration_indices)
    images, labels = train_split.images(pool), train_split.labels[pool]
    int8_says, fp32_says = (evaluate.predict(cases.get(i), p, images, 1).argmax(1)
                            for i, p in (("ov-int8-nncf", plain), ("ov-fp32", fp32)))
    hard = np.flatnonzero((fp32_says == labels) & (int8_says != labels))[:40]
    easy = np.flatnonzero((fp32_says == labels) & (int8_says == labels))[:60]
    assert len(hard) >= 10, f"only {len(hard)} training images where int8 alone is wrong"
    chosen = np.concatenate([hard, easy])
    case = cases.Case("ov-ac-probe", "openvino", "int8", "ir", OvQuant(accuracy_control=True))
    dest = tmp_path / "model.ir.zip"
    calibration = train_split.images(ptq_store.calibration_indices[::10])
    openvino_backend.build_int8(case, ptq_store.source, calibration, dest,
                                validation=(images[chosen], labels[chosen]), ov_max_drop=0.0)

    with zipfile.ZipFile(dest) as archive:
        control = json.loads(archive.read(openvino_backend.CONTROL))
    assert control["fp32_top1"] == 100.0 and control["validation_images"] == len(chosen)
    assert control["reverted"], f"NNCF reverted nothing on images chosen to be wrong in int8: {control}"
    assert control["quantized_operations"] >= len(control["reverted"])
    assert control["reached"] == (control["drop_points"] <= 0), control
    facts = openvino_backend.runtime_facts(case, dest)
    said = facts["accuracy control"]
    assert said.startswith("NNCF reached" if control["nncf_reached"] else "NNCF did NOT reach"), said
    assert (f"final {control['final_top1']:.2f}%" in said and f"{len(control['reverted'])} of "
            f"{control['quantized_operations']} quantized operations" in said), said
    assert "f32" in facts["layers"], f"reverted operations should run in floating point: {facts['layers']}"


def test_an_ir_depends_only_on_the_graph_not_on_what_the_process_did_before(openvino_present, ptq_store, train_split,
                                                                             tmp_path) -> None:
    """OpenVINO numbers new nodes from a process-wide counter; the saved IR (and its size gate) must not."""
    import openvino as ov

    case, calibration = cases.get("ov-int8-nncf"), train_split.images(ptq_store.calibration_indices[::50])
    openvino_backend.build_int8(case, ptq_store.source, calibration, tmp_path / "first.ir.zip")
    for _ in range(3):  # more nodes created in this process
        ov.convert_model(str(ptq_store.source))
    openvino_backend.build_int8(case, ptq_store.source, calibration, tmp_path / "second.ir.zip")
    assert (tmp_path / "first.ir.zip").read_bytes() == (tmp_path / "second.ir.zip").read_bytes()
