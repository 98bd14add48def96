"""The input contract: how the CIFAR-10 pixels are fed to a model, read from its input shape and the options."""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.core.errors import ConfigError
from ptq_helpers.data.input_contract import ContractOptions, InputContract, resolve

PIXELS = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
TORCH = ContractOptions("auto", 1 / 255, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


def test_the_reference_contract_feeds_the_pixels_as_they_were_fed_before() -> None:
    contract = resolve("input", ["N", 32, 32, 3], True, ContractOptions(), "resnet8.onnx")
    assert contract.is_reference and contract.output == "probabilities"
    x = contract.prepare(PIXELS)
    assert x.dtype == np.float32 and np.array_equal(x, PIXELS.astype(np.float32))


def test_a_pytorch_contract_scales_normalizes_per_channel_and_goes_channels_first() -> None:
    contract = resolve("x", ["batch", 3, 32, 32], False, TORCH, "m.pt2")
    x = contract.prepare(PIXELS)
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32 and not contract.is_reference
    want = (PIXELS[1, 5, 7, 2] / 255 - 0.4465) / 0.2616
    assert x[1, 2, 5, 7] == pytest.approx(want, rel=1e-6)
    assert "input 'x' float32 NCHW (N, 3, 32, 32)" in contract.describe() and "logits out" in contract.describe()


def test_logits_become_probabilities_and_probabilities_stay() -> None:
    logits = np.array([[1000.0, 0.0, -5.0], [0.0, 0.0, 0.0]], np.float32)
    probs = InputContract(output="logits").probabilities(logits)
    assert np.allclose(probs.sum(1), 1) and probs[0].argmax() == 0 and np.allclose(probs[1], 1 / 3)
    same = np.array([[0.2, 0.8]], np.float32)
    assert InputContract().probabilities(same) is same


@pytest.mark.parametrize(("option", "dims", "seen"), [("nhwc", ["N", 3, 32, 32], "NCHW, channels first"),
                                                      ("nchw", [None, 32, 32, 3], "NHWC, channels last")])
def test_a_layout_option_that_contradicts_the_input_shape_is_refused_naming_both(option: str, dims: list,
                                                                                 seen: str) -> None:
    with pytest.raises(ConfigError, match=rf"^--ptq-input-layout {option}: m\.onnx has input 'x' of shape "
                                          rf"\(N, \d+, 32, \d+\), which is {seen}; pass --ptq-input-layout "):
        resolve("x", dims, False, ContractOptions(option), "m.onnx")  # type: ignore[arg-type]


def test_an_input_that_is_no_32x32_rgb_image_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"input 'x' has shape \(N, 1, 28, 28\); the suite feeds 32x32 RGB"):
        resolve("x", ["N", 1, 28, 28], False, ContractOptions(), "m.onnx")
