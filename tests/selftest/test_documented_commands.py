"""The commands README.md, docs/running.md and docs/ci.md tell a user to type, run as written, twice in a row, from
a folder outside the repository, with every file they write or read as an absolute path there (issue 36: the
space form `--ptq-json out/r.json` failed the second time, once the file existed). The pytest commands run on a
subset of the gates (warm cache: seconds) and name the suite's tests folder, which is what running from another
folder takes (docs/running.md#from-another-folder)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = (ROOT / "README.md", ROOT / "docs" / "running.md", ROOT / "docs" / "ci.md")
SUBSET = "ort-int8-qdq and (top1 or size)"  # two gate tests of one build: the command's machinery, not the matrix
# What the machine of a self-test run cannot do (other targets, remote hosts, your own model, the self-tests, the
# timed runs) is left out by option; everything else a page shows is run.
NOT_HERE = ("--ptq-model", "--tx", "-m", "--ptq-targets", "--ptq-matrix", "--benchmark-only", "--ptq-sweep",
            "--ptq-recipe-draws", "--ptq-search", "-d", "--ptq-size-recipe")
TOOLS = ("pytest", "python -m ptq_helpers.report", "python -m ptq_helpers.compare")

pytestmark = pytest.mark.real


def _commands(text: str) -> list[str]:
    """Commands in ```bash blocks (backslash continuations joined) and in `inline code` of the page."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        found += block.replace("\\\n", " ").splitlines()
    found += re.findall(r"`((?:\.venv/bin/)?(?:pytest|python -m ptq_helpers\.(?:report|compare)) [^`]+)`", text)
    out = []
    for line in found:
        words = shlex.split(line.replace(".venv/bin/", ""), comments=True)
        text_ = shlex.join(words)
        args = words[1:] if words[:1] == ["pytest"] else words[3:]
        if words and text_.startswith(TOOLS) and not any(w.split("=")[0] in NOT_HERE for w in args):
            out.append(text_)
    return list(dict.fromkeys(out))


def documented() -> list[str]:
    return list(dict.fromkeys(cmd for page in PAGES for cmd in _commands(page.read_text(encoding="utf-8"))))


def _absolute(words: list[str], where: Path) -> list[str]:
    """Every relative file a command names, as an absolute path under `where` (outside the repository)."""
    def one(word: str) -> str:
        if word.startswith("-") and "=" in word:
            flag, value = word.split("=", 1)
            return f"{flag}={one(value)}"
        return str(where / word) if re.search(r"\.(json|md|xml)$", word) and not word.startswith("/") else word
    return [one(w) for w in words]


def _argv(cmd: str, where: Path) -> list[str]:
    words = _absolute(shlex.split(cmd), where)
    if words[0] == "pytest":  # the suite's tests folder named (a page's own `tests` is it too)
        rest = [w for w in words[1:] if w != "tests"]
        return [sys.executable, "-m", "pytest", str(ROOT / "tests"), *rest, "-p", "no:cacheprovider", "-k", SUBSET]
    return [sys.executable, *words[1:]]  # python -m ...


def test_the_pages_show_the_commands_this_test_runs() -> None:
    cmds = documented()
    assert "pytest -n auto --ptq-report=out/report.md --ptq-json=out/results.json" in cmds, cmds
    assert "python -m ptq_helpers.compare release.json today.json" in cmds
    assert any(c.startswith("python -m ptq_helpers.report") and "--summary" in c for c in cmds)
    spaced = [c for c in cmds if re.search(r"--ptq-(json|report|baseline|model) [^-]", c)]
    assert not spaced, f"write path options with '=': {spaced}"


def test_documented_commands_work_twice_from_outside_the_repository(tmp_path: Path) -> None:
    where = tmp_path / "elsewhere"
    where.mkdir()
    # the commands that name files (what broke on the second run; a bare `pytest -n auto` is the gate run itself),
    # the runs first (they write the inputs), a run against a baseline after the run that writes it
    cmds = sorted((c for c in documented() if not c.startswith("pytest") or re.search(r"\.(json|md|xml)\b", c)),
                  key=lambda c: (not c.startswith("pytest"), "--ptq-baseline" in c))
    ran = []
    for cmd in cmds:
        words = _absolute(shlex.split(cmd), where)
        inputs = [w for w in words[3:] if not w.startswith("-")] if not cmd.startswith("pytest") else \
            [w.split("=", 1)[1] for w in words if w.startswith("--ptq-baseline=")]
        for word in inputs:  # results files a page names as inputs (a baseline, runs to compare): a run's results
            path = Path(word)
            if path.suffix == ".json" and not path.exists() and (where / "out" / "results.json").exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(where / "out" / "results.json", path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}  # a user's shell, not a worker
        for attempt in (1, 2):
            proc = subprocess.run(_argv(cmd, where), cwd=where, capture_output=True, text=True, timeout=900, env=env)
            assert proc.returncode == 0, (f"{cmd} (run {attempt} in {where}): exit {proc.returncode}\n"
                                          f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        ran.append(cmd)
    assert any(c.startswith("pytest") for c in ran) and any("compare" in c for c in ran), ran
    assert not list(ROOT.glob("out")), "a documented command wrote into the repository"
