"""litert-int16x8 on the micro-controller budgets, end to end on the real build (issue 30): 16-bit activations
need more SRAM than the 64 KiB default, so its SRAM gate fails at the default, with a message naming the measured
KiB and the option, and passes when the option raises the budget above what Vela measured. Not in the seed matrix
(CI's default command), because it fails there by design: `--ptq-matrix=mcu` runs it."""
from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.pytest_plugin.failures import explained

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None or importlib.util.find_spec("ethosu") is None
                       or importlib.util.find_spec("tensorflow") is None,
                       reason="litert-int16x8 on the micro-controller needs the litert and mcu extras: "
                              "pip install -e '.[litert,mcu]'"),
]
# Vela 5.2's SRAM estimate for it when issue 30 was filed (ethos-u55-128, Ethos_U55_High_End_Embedded, Shared_Sram)
ISSUE_SRAM_KIB = 98.28


def _gate(ptq_store, *args: str) -> subprocess.CompletedProcess:
    """The SRAM budget test of litert-int16x8, run by pytest in a child on this run's cache and assets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(RESNET8_PTQ_CACHE=str(ptq_store.settings.cache), RESNET8_PTQ_ASSETS=str(ptq_store.settings.assets.root))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/gates/test_mcu.py",
           "--ptq-targets=host,mcu",
           "--ptq-matrix=mcu", "-k", "test_fits_the_micro_controller and litert-int16x8-sram", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)


def test_int16x8_fails_the_default_sram_budget_and_passes_a_raised_one(ptq_store) -> None:
    budget = explained(lambda: ptq_store.mcu_budget(cases.get("litert-int16x8")))
    kib = budget.sram_bytes / 1024
    assert budget.cpu_fallback_ops == () and budget.non_integer_ops == (), budget  # all on the NPU, integer
    assert abs(kib - ISSUE_SRAM_KIB) < 0.05 * ISSUE_SRAM_KIB, (
        f"Vela's SRAM estimate for litert-int16x8 is {kib:.2f} KiB, not the ~{ISSUE_SRAM_KIB} KiB of issue 30: "
        "the build or Vela changed; update the docs (docs/targets.md) with the new figure")

    failed = _gate(ptq_store)
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out[-3000:]
    assert (f"litert-int16x8: ethos-u55-128 SRAM (Vela estimate) {kib:.1f} KiB exceeds 64.0 KiB "
            "(--ptq-max-sram-kib)") in out, out[-3000:]
    assert "1 failed" in out, out[-3000:]

    raised = _gate(ptq_store, "--ptq-max-sram-kib", str(math.ceil(kib)))
    out = raised.stdout + raised.stderr
    assert raised.returncode == 0 and "1 passed" in out, out[-3000:]
