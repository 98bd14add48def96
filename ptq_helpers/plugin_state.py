"""Keys for what the fixtures and hooks share through `config.stash`."""
from __future__ import annotations

from typing import Any

import pytest

from ptq_helpers.store import Settings
from ptq_helpers.thresholds import Thresholds

SETTINGS = pytest.StashKey[Settings]()
THRESHOLDS = pytest.StashKey[Thresholds]()
RECORDS = pytest.StashKey[dict[str, dict[str, Any]]]()  # case id -> results.record
EVENTS = pytest.StashKey[list[dict[str, Any]]]()  # what was built vs reused, per process
META = pytest.StashKey[dict[str, Any]]()  # data/calibration hashes of the run
BENCH = pytest.StashKey[dict[str, dict[str, Any]]]()  # case id -> batch -> timing figures
SWEEP = pytest.StashKey[dict[str, dict[str, Any]]]()  # case id -> calibration-draw sweep summary
DIAGNOSIS = pytest.StashKey[dict[str, Any]]()  # per-layer SQNR of the worst ONNX Runtime QDQ model
REFERENCES = pytest.StashKey[dict[str, dict[str, Any]]]()  # reference rows that are reported, not gated
