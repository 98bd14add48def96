"""Reading a results JSON (--ptq-json): one ConfigError naming the file, the problem and the fix."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ptq_helpers.core.errors import ConfigError


def load(path: Path, option: str = "") -> Mapping[str, Any]:
    """A --ptq-json results file, or one ConfigError naming the file, the problem and the fix."""
    where = f"{option} {path}" if option else str(path)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read results ({exc}); pass a file written by pytest --ptq-json") from None
    if not isinstance(data, dict) or data.get("generator") != "resnet8-ptq" or not isinstance(data.get("models"), list):
        raise ConfigError(f"{where}: not a resnet8-ptq results file; write one with pytest --ptq-json PATH")
    return data
