"""The calibration draw, on synthetic labels: reference-compatible, stratified, seeded (that the real draw shares
no image with the test split is a gate: tests/gates/test_inputs.py)."""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.data.calibration import draw_indices, indices_sha256
from ptq_helpers.core.errors import ConfigError


def _labels(per_class: int = 30, classes: int = 10) -> np.ndarray:
    return np.random.default_rng(0).permutation(np.repeat(np.arange(classes), per_class))


def test_draw_matches_reference_global_rng_recipe() -> None:
    labels = _labels()
    state = np.random.get_state()
    try:
        np.random.seed(42)
        expected = np.concatenate([np.random.choice(np.where(labels == c)[0], 7, replace=False) for c in range(10)])
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(draw_indices(labels, per_class=7, seed=42), expected)


def test_draw_is_stratified_unique_and_seeded() -> None:
    labels = _labels()
    idx = draw_indices(labels, per_class=5, seed=1)
    assert np.bincount(labels[idx]).tolist() == [5] * 10
    assert len(set(idx.tolist())) == 50
    assert indices_sha256(idx) == indices_sha256(draw_indices(labels, per_class=5, seed=1))
    assert indices_sha256(idx) != indices_sha256(draw_indices(labels, per_class=5, seed=2))


@pytest.mark.parametrize("per_class", [0, 31])
def test_draw_rejects_impossible_sample_counts(per_class: int) -> None:
    with pytest.raises(ConfigError, match=r"--ptq-calibration-per-class=\d+: must be between 1 and 30"):
        draw_indices(_labels(), per_class=per_class)


def test_later_draws_continue_the_same_stream() -> None:
    labels = _labels()
    state = np.random.get_state()
    try:
        np.random.seed(42)
        for _ in range(2):
            second = np.concatenate([np.random.choice(np.where(labels == c)[0], 5, replace=False) for c in range(10)])
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(draw_indices(labels, per_class=5, seed=42, draw=1), second)
