"""Size reduction of every quantized file vs its framework's fp32 file, as serialized on disk."""
from __future__ import annotations

import pytest

from ptq_helpers import gates
from ptq_helpers.plugin_state import RECORDS, THRESHOLDS
from ptq_helpers.store import ModelResult
from tests.gate import passes

pytestmark = pytest.mark.real


def test_size_reduction(quantized_model: ModelResult, baseline_of, pytestconfig: pytest.Config) -> None:
    base = baseline_of(quantized_model.case)
    assert quantized_model.artifact.size == quantized_model.artifact.path.stat().st_size
    recs = pytestconfig.stash[RECORDS]
    passes(gates.size_reduction(recs[quantized_model.case.id], recs[base.case.id], pytestconfig.stash[THRESHOLDS]))
