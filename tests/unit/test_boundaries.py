"""The walls between the generic code and the runtime wings, checked from the registries themselves (so adding a
wing or a target needs no edit here): generic modules import no wing and name no framework or case id of one; only
targets/ branches on a CPU architecture; no line is longer than the linter's limit."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path


from ptq_helpers import backends
from ptq_helpers.matrix import cases

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ptq_helpers"
WINGS = {wing.__name__: Path(wing.__file__).parent for wing in backends.WINGS}
REGISTRY = PACKAGE / "backends" / "__init__.py"
# Generic modules that may reach a wing, and why (each names what it is bound to by nature):
ALLOWED = {
    "targets/tflm.py": "the mcu target runs .tflite files: it quantizes its inputs with the LiteRT wing's helpers",
    "targets/mcu.py": "the Ethos-U budgets of a .tflite: the LiteRT wing says whether it has int4 weights",
    "targets/arm64.py": "the Arm targets run the aarch64 wheels of the host's ONNX Runtime and LiteRT",
    "targets/arm_setup.py": "... which it installs into the Arm userland",
    "results/record.py": "the size kinds of results files written before records carried them (schema 1), frozen",
}
TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def _generic() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p != REGISTRY and str(p.relative_to(PACKAGE)) not in ALLOWED
            and not any(folder in p.parents for folder in WINGS.values())]


def _strings(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of a module that are not docstrings (prose may mention a runtime)."""
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return found


def test_the_registry_lists_every_wing_and_each_declares_the_protocol() -> None:
    on_disk = {p.parent.name for p in (PACKAGE / "backends").glob("*/__init__.py")}
    assert on_disk == {name.rpartition(".")[2] for name in WINGS}, "a wing folder missing from backends.WINGS"
    for wing in backends.WINGS:
        assert wing.FRAMEWORKS and all(case.framework in cases.FRAMEWORKS for case in wing.CASES), wing


def test_generic_code_imports_no_wing_and_names_no_runtime() -> None:
    names = set(cases.FRAMEWORKS) | set(cases.BY_ID)
    found = []
    for path in _generic():
        tree = ast.parse(path.read_text())
        wings = [m for m in _imports(tree) if any(m == w or m.startswith(f"{w}.") for w in WINGS)]
        if wings:
            found.append(f"{path.relative_to(PACKAGE)} imports a runtime wing ({', '.join(wings)})")
        # a file path (e.g. a zip member "data/executorch/" of torch's .pt2 format) names no runtime of the suite
        named = [(n.lineno, sorted(names & set(TOKEN.findall(n.value)))) for n in _strings(tree)
                 if not ("/" in n.value and " " not in n.value)]
        named = [(line, hit) for line, hit in named if hit]
        if named:
            found.append(f"{path.relative_to(PACKAGE)} names a runtime or a case id of one (line, names): {named}")
    assert not found, "ask the registry entry instead:\n" + "\n".join(found)


def test_the_allowed_modules_exist_and_reach_a_wing() -> None:
    """The exceptions above stay true: each module is there and does name or import a runtime wing."""
    names = set(cases.FRAMEWORKS) | set(cases.BY_ID)
    for where in ALLOWED:
        tree = ast.parse((PACKAGE / where).read_text())
        imports = [m for m in _imports(tree) if any(m.startswith(f"{w}.") for w in WINGS)]
        named = [n for n in _strings(tree) if names & set(TOKEN.findall(n.value))]
        assert imports or named, f"{where} no longer reaches a runtime wing: drop it from ALLOWED"


PROBE = "core/isa.py"  # the CPU probe: it runs CPUID's x86 machine code only on an x86 CPU


ARCH = ("aarch64", "arm64", "x86_64", "AMD64", "armv7l")


def _branches_on_arch(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            text = ast.unparse(node)
            if any(f"'{a}'" in text or f'"{a}"' in text for a in ARCH) or ".arch" in text or "machine()" in text:
                lines.append(node.lineno)
    return lines


def test_only_targets_branch_on_the_cpu_architecture() -> None:
    found = {str(p.relative_to(PACKAGE)): lines for p in sorted(PACKAGE.rglob("*.py"))
             if PACKAGE / "targets" not in p.parents and str(p.relative_to(PACKAGE)) != PROBE
             and (lines := _branches_on_arch(ast.parse(p.read_text())))}
    assert not found, f"these branch on the CPU architecture (module: lines): {found}; ask the target instead"


def _too_long(line: str, limit: int) -> bool:
    """As ruff's E501 counts: a trailing pragma comment (noqa, type:) is not counted, and a line whose last word (a
    URL, a pattern) starts within the limit cannot be broken."""
    line = re.sub(r"\s+# (noqa|type:).*$", "", line.rstrip())
    return len(line) > limit and len(line) - len(line.split()[-1]) >= limit


def test_no_line_exceeds_the_linters_limit() -> None:
    limit = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["line-length"]
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "fixtures").glob("*.py"), *(ROOT / "tests").rglob("*.py")]
    long = [f"{p.relative_to(ROOT)}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1)
            if _too_long(line, limit)]
    assert not long, f"{len(long)} lines over {limit} characters ([tool.ruff] line-length): {long[:20]}"


def test_one_markdown_table_helper() -> None:
    """Every Markdown table comes from ptq_helpers.report.markdown.table (one format, one place to change it)."""
    own = PACKAGE / "report" / "markdown.py"
    drawn = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if p != own and re.search(r"\|---|\"---\" for", p.read_text())]
    assert not drawn, f"these modules draw their own Markdown tables: {drawn}"


def test_the_checks_see_what_they_forbid() -> None:
    """Controls: the CPU probe's branch is found, and so are a case id and a wing import in generic-looking code."""
    assert _branches_on_arch(ast.parse((PACKAGE / PROBE).read_text()))
    tree = ast.parse(f'import {next(iter(WINGS))}.backend\nREF = "{cases.CASES[0].id}"\n')
    assert _imports(tree)[0].startswith(next(iter(WINGS)))
    assert set(TOKEN.findall(_strings(tree)[0].value)) & set(cases.BY_ID)
