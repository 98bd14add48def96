"""The suite's own errors as one-line test failures (no traceback): the message names the file or option,
what is wrong and the fix."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from ptq_helpers.core.errors import PTQError

T = TypeVar("T")


def explained(fn: Callable[[], T]) -> T:
    """Turn the suite's own errors into one-line failures instead of tracebacks."""
    __tracebackhide__ = True
    try:
        return fn()
    except PTQError as exc:
        pytest.fail(str(exc), pytrace=False)
