"""Our code raises no warning even when the interpreter turns every deprecation into an error."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WORKLOAD = '''
import numpy as np, torch
from pathlib import Path
from ptq_helpers.matrix.cases import get
from ptq_helpers.backends.evaluate import make_runner
from ptq_helpers.backends.pytorch.backend import _trace_and_save, fx_quantize

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4 * 30 * 30, 10)
    def forward(self, x):
        return torch.softmax(self.fc(torch.relu(self.conv(x.permute(0, 3, 1, 2))).reshape(x.shape[0], -1)), 1)

case = get("torch-int8-fx")
calib = (np.random.default_rng(0).random((16, 32, 32, 3)) * 255).astype(np.float32)
out = Path(__import__("sys").argv[1])
if not out.exists():  # first process builds, a second one loads and runs (warn-once state starts fresh)
    _trace_and_save(fx_quantize(Tiny().eval(), case.quant, calib), out, (8, 32, 32, 3))
probs = make_runner(case, out, 1)(calib[:8])
assert probs.shape == (8, 10)
print("ok")
'''


def test_fx_build_trace_and_load_are_warning_free_under_error_filters(tmp_path: Path) -> None:
    for _ in ("build", "load"):
        proc = subprocess.run(
            [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning", "-W",
             "error::UserWarning", "-c", WORKLOAD, str(tmp_path / "tiny.pt")],
            capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
