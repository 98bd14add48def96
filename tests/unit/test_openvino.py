"""OpenVINO/NNCF specifics on hand-made inputs: how NNCF's accuracy-control log is read and what the summary
says of it."""
from __future__ import annotations

import pytest

from ptq_helpers.backends.openvino import backend as openvino_backend


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
