"""Size reduction of every quantized file vs its framework's fp32 file, as serialized on disk."""
from __future__ import annotations

import pytest

from ptq_helpers.analysis import gates
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.store import ModelResult
from tests.fakes import passes

pytestmark = pytest.mark.real


def test_size_reduction(host_quantized_model: ModelResult, ptq_thresholds: Thresholds) -> None:
    model = host_quantized_model
    assert model.artifact.size == model.artifact.path.stat().st_size
    passes(gates.size_reduction(model.record, ptq_thresholds))
