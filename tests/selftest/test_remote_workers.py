"""The suite on pytest-xdist's remote workers: two execnet socket servers on 127.0.0.1 stand in for two
hosts, each with its own working folder (a copy of the tests) and its own cache; the controller gathers
their results into one JSON, which must equal a local run's."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from ptq_helpers.matrix import cases

ROOT = Path(__file__).resolve().parents[2]
# No path arguments: xdist rewrites them relative to an rsync root; the ini's testpaths and -k select instead.
SUBSET = ["-k", "test_accuracy_gates and (ort-fp32 or ort-int8-qdq or ort-uint8-qdq)"]
pytestmark = pytest.mark.real


def _host_folder(folder: Path) -> Path:
    """What a remote host needs besides the installed package: the tests, their fixtures (fixtures/) and the
    pytest configuration."""
    folder.mkdir()
    for name in ("tests", "fixtures"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    return folder


@contextmanager
def socket_server(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """`python -m execnet.script.socketserver 127.0.0.1:PORT` in `folder`; yields its --tx spec."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(folder.parent / f"{folder.name}-server.log", "w")
    server = subprocess.Popen([sys.executable, "-u", "-m", "execnet.script.socketserver", f"127.0.0.1:{port}"],
                              cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "Entering Accept loop" not in Path(log.name).read_text():
            assert server.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.1)
        yield f"socket=127.0.0.1:{port}//chdir={folder}"
    finally:
        server.kill()
        server.wait()
        log.close()


KEEP = ("correct", "per_class", "predictions_sha256", "sha256", "size_bytes", "accuracy", "hits", "stats")


def _records(path: Path) -> dict[str, dict]:
    return {m["id"]: {k: m.get(k) for k in KEEP} for m in json.loads(path.read_text())["models"]}


def test_two_socket_hosts_gather_what_a_local_run_measures(ptq_session, ptq_store, tmp_path: Path) -> None:
    local = {}
    for case_id in ("ort-fp32", "ort-int8-qdq", "ort-uint8-qdq"):  # measured here, in this process
        data = ptq_store.result(cases.get(case_id)).record.to_json()
        local[case_id] = {k: data.get(k) for k in KEEP}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["RESNET8_PTQ_ASSETS"] = str(ptq_session.settings.assets.root)
    pytest_cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *SUBSET]

    with ExitStack() as stack:
        specs = [stack.enter_context(socket_server(
                     _host_folder(tmp_path / name), {**env, "RESNET8_PTQ_CACHE": str(tmp_path / f"{name}-cache")}))
                 for name in ("host-a", "host-b")]
        remote = subprocess.run(
            [*pytest_cmd, "-d", *(a for s in specs for a in ("--tx", s)), f"--ptq-json={tmp_path / 'remote.json'}"],
            cwd=_host_folder(tmp_path / "controller"), capture_output=True, text=True, timeout=900,
            env={**env, "RESNET8_PTQ_CACHE": str(tmp_path / "controller-cache")})  # not an option: it reaches workers
    assert remote.returncode == 0, remote.stdout[-3000:] + remote.stderr[-2000:]
    for host in ("host-a", "host-b"):  # each host built in its own cache: nothing was shared through a folder
        assert any((tmp_path / f"{host}-cache" / "predictions").iterdir()), f"{host} evaluated nothing"
    assert not (tmp_path / "controller-cache" / "predictions").exists()
    assert _records(tmp_path / "remote.json") == json.loads(json.dumps(local))
