"""The matrix's unsupported rows (PyTorch uint8: fbgemm requires qint8 weights): the suite refuses to build them,
up front, saying why."""
from __future__ import annotations

import pytest

from ptq_helpers.matrix.cases import Case
from ptq_helpers.core.errors import UnsupportedQuantization


def test_suite_refuses_up_front(unsupported_case: Case, ptq_store) -> None:
    with pytest.raises(UnsupportedQuantization, match="requires qint8"):
        ptq_store.artifact(unsupported_case)
