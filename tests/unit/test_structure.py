"""docs/architecture.md and docs/extending.md hold the wings, the targets and the files a new runtime or target
touches as generated from the registries (python -m ptq_helpers.pytest_plugin.structure)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ptq_helpers.pytest_plugin import structure

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("doc", ["docs/architecture.md", "docs/extending.md"])
def test_the_generated_blocks_are_current(doc: str) -> None:
    text = (ROOT / doc).read_text()
    assert "<!-- " in text and structure.rewrite(text) == text, \
        f"{doc} is out of date: python -m ptq_helpers.pytest_plugin.structure {doc}"


def test_every_wing_and_target_is_in_the_docs() -> None:
    arch = (ROOT / "docs/architecture.md").read_text()
    from ptq_helpers import backends
    from ptq_helpers.targets import registry

    assert all(f"`ptq_helpers/backends/{w.__name__.rpartition('.')[2]}/`" in arch for w in backends.WINGS)
    assert all(f"| `{name}` |" in arch for name in registry.TARGETS)
