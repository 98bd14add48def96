"""Two pytest runs with xdist sharing one cache at the same time: both pass, each artifact built once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
import time
from pathlib import Path

import pytest

from ptq_helpers.core.artifacts import get_or_build

CACHE = Path({cache!r})


@pytest.mark.parametrize("name", ["ort-int8", "ort-uint8", "torch-int8", "torch-fp32"])
@pytest.mark.parametrize("repeat", range(3))
def test_uses_shared_artifact(name, repeat):
    def build(tmp):
        with open(CACHE / "builds.log", "a") as fh:
            fh.write(name + "\\n")
        time.sleep(0.3)
        tmp.write_bytes(name.encode())

    stored = get_or_build(CACHE / name, "model.bin", build, run_id="shared")
    assert stored.path.read_bytes() == name.encode()
'''


def test_two_concurrent_xdist_runs_share_one_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "test_inner.py").write_text(INNER.format(cache=str(cache)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RESNET8_PTQ_CACHE": str(cache), "RESNET8_PTQ_ASSETS": str(tmp_path)}
    cmd = [sys.executable, "-m", "pytest", "-n", "2", "-p", "xdist", "-q", "-p", "no:cacheprovider",
           "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_inner.py")]
    runs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    assert all("12 passed" in out for out in outputs), outputs
    builds = (cache / "builds.log").read_text().split()
    assert sorted(builds) == ["ort-int8", "ort-uint8", "torch-fp32", "torch-int8"]
