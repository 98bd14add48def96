"""The content-hash check on the real data: one pixel changed in the real test batch is caught."""
from __future__ import annotations

from pathlib import Path

import pytest

from ptq_helpers.data import cifar
from ptq_helpers.core.errors import AssetError
from tests.fakes import cifar_batch


@pytest.mark.real
def test_one_altered_pixel_in_a_real_batch_fails_the_content_hash(ptq_store, tmp_path: Path) -> None:
    batch = cifar.safe_load_batch(ptq_store.cifar_dir / "test_batch")
    data = batch["data"].copy()
    data[1234, 567] ^= 1
    cifar_batch(tmp_path / "test_batch", data, batch["labels"])
    with pytest.raises(AssetError, match=r"the test split's pixels do not match the official CIFAR-10 content hash"):
        cifar.load_split(tmp_path, "test")
