"""The package's shape: no import cycle anywhere (function-level imports count), and no module over 350 lines.
The layer rule itself is import-linter's contract in pyproject.toml (`lint-imports`, run by .ci/run)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_no_import_cycle() -> None:
    grimp = pytest.importorskip("grimp", reason="the import graph needs grimp: pip install -e '.[dev]'")
    graph = grimp.build_graph("ptq_helpers")
    edges = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(edges[module]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [module, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_over_350_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in [*ROOT.glob("ptq_helpers/**/*.py"), *ROOT.glob("fixtures/*.py")]
            if (n := len(p.read_text().splitlines())) > 350}
    assert not long, f"split these modules by concern: {long}"
