"""Missing inputs seen from outside: a `pytest -n 2` run with no assets folder and no network stops before any
test, with one message."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_offline_without_assets_stops_up_front_with_one_message(tmp_path: Path) -> None:
    """No assets and no network: one message before any test, naming the option and the variable."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(RESNET8_PTQ_ASSETS="", RESNET8_PTQ_CACHE=str(tmp_path / "cache"), NO_PROXY="", no_proxy="",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")  # a closed port: offline
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = (proc.stdout + proc.stderr).splitlines()
    assert proc.returncode == 4 and len(lines) <= 30, "\n".join(lines[:60])
    errors = [line for line in lines if "ERROR" in line]
    assert len(errors) == 1 and "--assets-dir or $RESNET8_PTQ_ASSETS" in errors[0], errors
    assert "cifar-10-python.tar.gz: missing and could not be downloaded" in errors[0]
