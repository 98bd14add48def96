"""Reading a results JSON (--ptq-json): one ConfigError naming the file, the problem and the fix.

A results file describes itself (labels, size kinds, tools in its records; thresholds flat), so reading one needs
no registry: `load` checks that what the readers use is there and well-formed, once, up front.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ptq_helpers.core.errors import ConfigError

SCHEMA = 1  # what this version writes; fields it adds to a schema are optional for readers
READABLE = (1,)  # the schemas this version reads
WRITE_AGAIN = "write it again with pytest --ptq-json PATH"


def load(path: Path, option: str = "") -> Mapping[str, Any]:
    """A --ptq-json results file, or one ConfigError naming the file, the problem and the fix."""
    where = f"{option} {path}" if option else str(path)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read results ({exc}); pass a file written by pytest --ptq-json") from None
    if not isinstance(data, dict) or data.get("generator") != "resnet8-ptq" or not isinstance(data.get("models"), list):
        raise ConfigError(f"{where}: not a resnet8-ptq results file; write one with pytest --ptq-json PATH")
    schema = data.get("schema", SCHEMA)
    if schema not in READABLE:
        raise ConfigError(f"{where}: results schema {schema!r} is not one this resnet8-ptq reads (schema "
                          f"{', '.join(map(str, READABLE))}); read it with the resnet8-ptq that wrote it, or "
                          f"{WRITE_AGAIN}")
    problem = damage(data)
    if problem:
        raise ConfigError(f"{where}: incomplete or damaged results ({problem}); {WRITE_AGAIN}")
    return data


def test_labels(data: Mapping[str, Any]) -> Any:
    """The true class of each test image (uint8, in the order of the JSON's `images` entry), or None when the file
    has none (written before it held them)."""
    from ptq_helpers.results.record import decode_classes

    images = data.get("images") or {}
    return decode_classes(images["labels"], int(images["count"])) if images.get("labels") else None


def damage(data: Mapping[str, Any]) -> str | None:
    """What is missing or malformed in a results payload, as 'KeyError: ... in ...', else None."""
    from ptq_helpers.matrix.thresholds import Thresholds
    from ptq_helpers.results.record import ModelRecord, linked

    def problem(exc: Exception, where: str) -> str:
        return f"{type(exc).__name__}: {exc}" + (f" in {where}" if where else "")

    checks: list[tuple[str, Any]] = [("", lambda: Thresholds.from_json(data["thresholds"]))]
    checks += [(f"models[{i}]", lambda m=m: ModelRecord.from_json(m)) for i, m in enumerate(data["models"])]
    checks += [(f"unsupported[{i}]", lambda u=u: [u[k] for k in ("id", "framework", "dtype", "reason")])
               for i, u in enumerate(data.get("unsupported") or [])]
    checks += [("", lambda: list(data.get("classes") or [])), ("", lambda: dict(data.get("meta") or {}))]
    checks += [("images", lambda: test_labels(data))]
    checks += [(f"models[{i}].predictions", lambda m=m: ModelRecord.from_json(m).predicted())
               for i, m in enumerate(data["models"])]
    for where, check in checks:
        try:
            check()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            return problem(exc, where)
    try:
        linked(ModelRecord.from_json(m) for m in data["models"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return problem(exc, "models")
    return None
