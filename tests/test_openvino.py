"""OpenVINO/NNCF specifics: accuracy control's revert path and what the report says of it."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from ptq_helpers.backends import evaluate, openvino as openvino_backend
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
    case = cases.Case("ov-ac-probe", "openvino", "int8", "ir", cases.OvQuant(accuracy_control=True))
    dest = tmp_path / "model.ir.zip"
    calibration = train_split.images(ptq_store.calibration_indices[::10])
    openvino_backend.build_int8(case, ptq_store.source, calibration, dest,
                                validation=(images[chosen], labels[chosen]), max_drop=0.0)

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


def test_unreached_max_drop_is_said_in_the_summary() -> None:
    control = {"validation_images": 5000, "max_drop_points": 0.1, "fp32_top1": 92.68, "final_top1": 92.1,
               "drop_points": 0.58, "reached": False, "nncf_reached": False, "quantized_operations": 14,
               "all_reverted": False, "reverted": ["conv_a", "conv_b"]}
    said = openvino_backend.control_summary(control)
    assert said.startswith("NNCF did NOT reach max drop 0.1 pt, 2 of 14 quantized operations reverted")
    assert "(conv_a, conv_b)" in said and "5,000 held-out training images" in said
    assert "final 92.10% (drop +0.58 pt, ABOVE the max)" in said


REVERT = "Reverted {n} operations to the floating-point precision: \n\t{names}"


@pytest.mark.parametrize(("lines", "expected"), [
    (["Total number of quantized operations in the model: 14", REVERT.format(n=2, names="a\n\tb"),
      REVERT.format(n=1, names="c"), "Algorithm completed: achieved required accuracy drop 0.0005 (absolute)",
      "2 out of 14 were reverted back to the floating-point precision:\n\ta\n\tc"],
     {"nncf_reached": True, "quantized_operations": 14, "all_reverted": False, "reverted": ["a", "c"]}),
    (["Algorithm completed: metric of the quantized model is greater than the metric of the initial model",
      "0 out of 14 were reverted back to the floating-point precision:\n"],
     {"nncf_reached": True, "quantized_operations": 14, "all_reverted": False, "reverted": []}),
    (["Total number of quantized operations in the model: 3", REVERT.format(n=2, names="a\n\tb"),
      REVERT.format(n=1, names="c"), "All layers have been checked and the AccuracyAwareQuantization will not "
      "be able to achieve the required accuracy drop", "The algorithm could not achieve the required accuracy drop."],
     {"nncf_reached": False, "quantized_operations": 3, "all_reverted": True, "reverted": ["a", "b", "c"]}),
], ids=["reached-after-reverting", "nothing-to-revert", "gave-up-reverting-all"])
def test_nncf_log_is_read_as_nncf_writes_it(lines, expected) -> None:
    assert openvino_backend.reverted_from_log(lines) == expected


def test_validation_draw_is_disjoint_from_calibration(train_split, ptq_store) -> None:
    held_out = ptq_store.validation_draw(0)
    assert not np.intersect1d(held_out, ptq_store.calibration_indices).size
    assert np.bincount(train_split.labels[held_out], minlength=10).tolist() == [500] * 10
    assert np.array_equal(held_out, ptq_store.validation_draw(0))  # seeded: same set every run


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
