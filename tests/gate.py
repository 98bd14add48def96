"""Assertion helper for the gates: the failure message is the gate's own."""
from __future__ import annotations

import pytest


def passes(message: str | None) -> None:
    """Fail the test with the gate's message (model, measured value, limit) when it did not pass."""
    __tracebackhide__ = True
    if message is not None:
        pytest.fail(message, pytrace=False)
