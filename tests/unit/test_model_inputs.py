"""One way to get images, and it is the contract: ModelSplit is what tests, builders, benchmarks and the size search
receive, and it has no accessor for the raw pixels."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ptq_helpers.data.cifar import Split
from ptq_helpers.data.input_contract import InputContract
from ptq_helpers.data.model_inputs import ModelSplit

ROOT = Path(__file__).resolve().parents[2]
PIXELS = np.arange(4 * 32 * 32 * 3, dtype=np.uint64).reshape(4, 32, 32, 3).astype(np.uint8)
TORCH_STYLE = InputContract(name="x", layout="nchw", scale=1 / 255, mean=(0.4914, 0.4822, 0.4465),
                            std=(0.2470, 0.2435, 0.2616), output="logits")


def _split() -> Split:
    return Split("test", PIXELS, np.arange(4) % 10, "sha")


def test_images_come_out_in_the_model_s_contract() -> None:
    split = ModelSplit(TORCH_STYLE, _split())
    x = split.images(np.array([1, 3]))
    assert x.shape == (2, 3, 32, 32) and x.dtype == np.float32
    want = (PIXELS[[1, 3]].astype(np.float32) * np.float32(1 / 255) - np.float32(0.4914)) / np.float32(0.2470)
    np.testing.assert_allclose(x[:, 0], want[..., 0], rtol=1e-6, atol=1e-6)
    assert split.images().shape == (4, 3, 32, 32) and split.images(slice(0, 2)).shape == (2, 3, 32, 32)


def test_the_same_images_in_another_contract() -> None:
    split = ModelSplit(TORCH_STYLE, _split()).in_contract(InputContract())
    np.testing.assert_array_equal(split.images(), PIXELS.astype(np.float32))
    assert (split.name, split.sha256, len(split)) == ("test", "sha", 4)


def test_the_object_tests_receive_has_no_raw_pixels() -> None:
    public = {name for name in dir(ModelSplit(InputContract(), _split())) if not name.startswith("_")}
    assert not {name for name in public if "pixel" in name or name == "raw"}, public


def test_raw_pixels_are_read_only_in_the_data_layer() -> None:
    """Outside ptq_helpers/data (the loader and ModelSplit) nothing reads the raw pixels."""
    offenders = [f"{path.relative_to(ROOT)}:{n}" for folder in ("ptq_helpers", "fixtures", "tests/gates")
                 for path in (ROOT / folder).rglob("*.py") if "ptq_helpers/data" not in path.as_posix()
                 for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\.raw_pixels\b", line)]
    assert not offenders, f"raw pixels fed outside the input contract: {', '.join(offenders)}"
