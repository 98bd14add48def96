"""The calibration draw: stratified samples from the TRAINING split, the same for every framework."""
from __future__ import annotations

import numpy as np

from ptq_helpers.core.errors import ConfigError
from ptq_helpers.core.fileio import sha256_bytes

DEFAULT_SEED = 42
DEFAULT_PER_CLASS = 100
TRAIN_IMAGES_PER_CLASS = 5000  # CIFAR-10 training split
CALIBRATION_BATCH = 100  # images per forward pass while calibrating, every framework


def draw_indices(labels: np.ndarray, per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED,
                 draw: int = 0) -> np.ndarray:
    """Same draw as `np.random.seed(seed)` then `np.random.choice(idx_c, per_class, replace=False)` for c = 0..9.

    `draw=k` repeats the recipe k more times on the same stream and returns the last set (the
    reference project's second draw is draw=1). A private RandomState reproduces the legacy
    global stream without touching global state.
    """
    classes = np.unique(labels)
    smallest = min(int((labels == c).sum()) for c in classes)
    if not 1 <= per_class <= smallest:
        raise ConfigError(
            f"--ptq-calibration-per-class={per_class}: must be between 1 and {smallest} "
            f"(the fewest training images any class has)"
        )
    rng = np.random.RandomState(seed)
    for _ in range(draw + 1):
        picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return np.concatenate(picks).astype(np.int64)


VALIDATION_PER_CLASS = 500  # held-out training images per class for tools that validate while quantizing


def validation_indices(labels: np.ndarray, exclude: np.ndarray, per_class: int = VALIDATION_PER_CLASS,
                       seed: int = DEFAULT_SEED) -> np.ndarray:
    """A stratified draw from the TRAINING split disjoint from `exclude` (the calibration draw): the validation
    set of tools like NNCF's accuracy control, so no test image ever steers a build."""
    rng = np.random.RandomState([seed, 1])  # its own stream: the calibration draws are unaffected
    rest = np.setdiff1d(np.arange(len(labels)), exclude)
    picks = [rng.choice(rest[labels[rest] == c], per_class, replace=False) for c in np.unique(labels)]
    return np.concatenate(picks).astype(np.int64)


def indices_sha256(indices: np.ndarray) -> str:
    """Content hash of a draw (little-endian int64), recorded in results and cache keys."""
    return sha256_bytes(np.asarray(indices, dtype="<i8").tobytes())
