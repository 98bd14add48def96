"""The CI examples users copy (examples/ci/): the GitHub workflow passes actionlint, the GitLab job is valid YAML that
runs what README says. The CLIs they call are checked in tests/selftest/test_ci_clis.py (child processes), and the
GitLab job itself runs end to end with gitlab-ci-local in .ci/run (.ci/gitlab-local)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"


def test_the_github_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint") or (Path(sys.executable).parent / "actionlint")
    if not Path(actionlint).is_file():
        pytest.skip("actionlint is not installed: pip install -e '.[dev]'")
    proc = subprocess.run([str(actionlint), "-no-color", str(EXAMPLES / "github-actions.yml")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_ci_examples_run_the_readme_commands_and_keep_the_outputs() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        text = (EXAMPLES / name).read_text()
        assert "pytest -n auto --junitxml=out/junit.xml --ptq-json=out/results.json --ptq-report=out/report.md" in text
        assert "ptq_helpers.compare baseline/results.json out/results.json --markdown out/compare.md" in text
        assert "ptq_helpers.report out/results.json --summary -o out/summary.md" in text
        assert "RESNET8_PTQ_CACHE" in text
    assert "pip install -e \".[convert,report,litert,mcu,openvino" in readme
