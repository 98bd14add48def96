"""The real inputs the gates measure on: CIFAR-10 as officially published, a calibration draw from the training
split that shares no image with the test split, and a validation draw (OpenVINO's accuracy control) held out
from the calibration images."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ptq_helpers.data import cifar

pytestmark = pytest.mark.real


def test_real_splits_match_official_content_hashes(test_split, train_split) -> None:
    assert (len(train_split), len(test_split)) == (50_000, 10_000)
    assert test_split.sha256 == cifar.CONTENT_SHA256["test"][0]
    assert train_split.sha256 == cifar.CONTENT_SHA256["train"][0]
    assert np.bincount(test_split.labels).tolist() == [1000] * 10


def test_calibration_set_comes_from_train_and_never_from_test(ptq_store, calibration_indices, train_split,
                                                              test_split) -> None:
    """1,000 training images, 100 per class, none of whose pixels appear among the test images."""
    assert len(calibration_indices) == 1000
    assert np.bincount(train_split.labels[calibration_indices]).tolist() == [100] * 10
    digest = lambda img: hashlib.sha256(img.tobytes()).digest()  # noqa: E731
    test_images = {digest(img) for img in test_split.images()}  # the contract is one-to-one on pixels
    overlap = sum(digest(img) in test_images for img in train_split.images(calibration_indices))
    assert overlap == 0, f"{overlap} calibration images also occur in the test split"


def test_validation_draw_is_disjoint_from_calibration(train_split, ptq_store) -> None:
    held_out = ptq_store.validation_draw(0)
    assert not np.intersect1d(held_out, ptq_store.calibration_indices).size
    assert np.bincount(train_split.labels[held_out], minlength=10).tolist() == [500] * 10
    assert np.array_equal(held_out, ptq_store.validation_draw(0))  # seeded: same set every run
