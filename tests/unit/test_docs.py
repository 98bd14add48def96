"""The documentation stays true to the code: the options table is the plugin's, the README is a first screen,
every relative link lands on a file (and heading), and the layer diagram is the import-linter contract."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OPTIONS_PAGE = DOCS / "gates-and-options.md"
README_LIMIT = 16 * 1024  # bytes: the first screen
REGENERATE = "python -m ptq_helpers.pytest_plugin.docs docs/gates-and-options.md"

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.DOTALL | re.MULTILINE)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are not links)."""
    return _CODE.sub("", _FENCE.sub("", text))


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page (lower case, punctuation dropped, spaces to hyphens,
    repeated headings numbered)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_the_options_table_is_generated_from_the_plugin() -> None:
    """The table between the markers is what the generator renders now (in its own process: the plugin may
    keep the parser it registers options on)."""
    proc = subprocess.run([sys.executable, "-m", "ptq_helpers.pytest_plugin.docs", "--check", str(OPTIONS_PAGE)],
                          check=False, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (f"{OPTIONS_PAGE.relative_to(ROOT)} is out of date with the plugin's options; "
                                  f"regenerate it with: {REGENERATE}\n{proc.stdout}{proc.stderr}")


def test_the_generator_sees_every_option_pytest_has(pytestconfig: pytest.Config) -> None:
    """Each flag of the suite that this pytest run knows is a row of the page (the generator misses none)."""
    table = OPTIONS_PAGE.read_text(encoding="utf-8")
    groups = getattr(getattr(pytestconfig, "_parser", None), "_groups", None)  # pytest's parser, not public API
    if groups is None:
        pytest.skip("this pytest does not expose its option groups (Config._parser._groups)")
    ours = [g for g in groups if g.name.startswith("resnet8-ptq")]  # one group per concern
    flags = [name for g in ours for opt in g.options for name in opt.names() if name.startswith("--")]
    assert flags
    missing = [flag for flag in flags if f"`{flag}" not in table]
    assert not missing, f"not in the options table: {', '.join(missing)}; regenerate it with: {REGENERATE}"


def test_the_readme_is_a_first_screen() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, (f"README.md is {size:,} bytes, more than {README_LIMIT:,}: move the detail to "
                                  f"docs/ and link it")


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no file {dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: " + "; ".join(broken)


def test_the_layer_diagram_is_the_import_contract() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c["layers"] for c in contracts["contracts"] if c["type"] == "layers")
    expected = [name.strip() for layer in layers for name in layer.split("|")]
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:begin -->(.*?)<!-- layers:end -->", page, re.DOTALL)
    assert block, "docs/architecture.md: no <!-- layers:begin --> ... <!-- layers:end --> block"
    drawn = re.findall(r"\bptq_helpers\.\w+", block.group(1))
    assert drawn == expected, (f"docs/architecture.md draws the layers {drawn}, pyproject.toml's contract has "
                               f"{expected}")


def test_every_test_the_docs_name_exists() -> None:
    """A test named in the docs (`test_name` or `test_name[...]`) is defined somewhere under tests/."""
    defined = {name for path in (ROOT / "tests").rglob("test_*.py")
               for name in re.findall(r"^\s*def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE)}
    missing = sorted({f"{page.relative_to(ROOT)}: {name}" for page in _pages()
                      for name in re.findall(r"`(test_\w+)(?=[`\[])", page.read_text(encoding="utf-8"))
                      if name not in defined})
    assert not missing, "the docs name tests that do not exist (renamed or removed?): " + "; ".join(missing)
