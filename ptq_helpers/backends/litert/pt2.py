"""The LiteRT builds of a PyTorch source (a torch.export `.pt2`): litert-torch's converter and ai-edge-quantizer,
run as a child process in their own prepared environment (ptq_helpers.backends.litert.torch_setup), never in the
test process.

`litert-fp32` is `litert_torch.convert` of the program (input layout as the program has it, e.g. NCHW);
`litert-int8` is ai-edge-quantizer's full-integer W8A8 recipe on that fp32 file (per-channel int8 weights, int8
activations and int8 input/output, calibrated one image per step on the suite's calibration draw, fed in the
model's own input contract): what TensorFlow Lite Micro and Vela need. The child is
ptq_helpers/backends/litert_pt2_child.py.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ptq_helpers.backends.litert import pt2_child as litert_pt2_child, torch_setup as litert_torch_setup
from ptq_helpers.core.errors import AssetError
from ptq_helpers.data import pt2_guard

TIMEOUT_S = 1800.0


def _cache() -> Path:
    return litert_torch_setup.default_cache()


def failure(pt2: Path, returncode: int, stderr: str) -> str:
    """The one-line message of a failed child: the file, the stage that failed and the converter's own words."""
    marked = [line.removeprefix("litert-pt2: ") for line in stderr.splitlines() if line.startswith("litert-pt2: ")]
    if marked:
        stage, _, error = marked[-1].partition(": ")
        what, fix = {"load": ("torch.export.load could not load it", "; pass a torch.export program saved with "
                              "torch.export.save (torch.export.export(model, (example,)))"),
                     "convert": ("litert-torch could not convert it to .tflite", ""),
                     "quantize": ("ai-edge-quantizer could not quantize its .tflite to int8", "")
                     }.get(stage, (stage, ""))
        return f"{pt2}: {what}: {error}{fix}"
    tail = " | ".join(stderr.strip().splitlines()[-3:]) or "no error output"
    return f"{pt2}: the litert-torch converter child exited {returncode}: {tail}"


def unready(source: Path) -> str | None:
    """Why the LiteRT builds cannot start from `source` here: a .pt2 needs the litert-torch environment prepared
    (a skip naming the command: a gate run never downloads it by itself); None otherwise."""
    if Path(source).suffix != ".pt2":
        return None
    try:
        litert_torch_setup.environment(_cache(), prepare=False)
    except litert_torch_setup.LiteRTTorchSetupError as exc:
        return str(exc)
    return None


def convert(pt2: Path, dest: Path, calibration: np.ndarray | None, cache: Path | None = None,
            prepare: bool = False) -> None:
    """dest = the .tflite of `pt2` (fp32, or full-integer int8 calibrated on `calibration`); AssetError naming the
    file and what failed, or LiteRTTorchSetupError naming the command that prepares the environment (`prepare`:
    prepare it first when it is not there)."""
    try:  # before the child lets torch open it (the child checks again: it may be run by hand)
        pt2_guard.check(Path(pt2))
    except pt2_guard.UnsafeArchive as exc:
        raise AssetError(str(exc)) from None
    python = litert_torch_setup.environment(cache or _cache(), prepare=prepare)
    with tempfile.TemporaryDirectory(prefix="ptq-litert-pt2-") as work:
        cmd = [str(python), "-I", litert_pt2_child.__file__, "--pt2", str(Path(pt2).resolve()), "--out",
               str(Path(dest).resolve())]
        if calibration is not None:
            np.save(Path(work) / "calibration.npy", np.ascontiguousarray(calibration, dtype=np.float32))
            cmd += ["--calibration", str(Path(work) / "calibration.npy")]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="2", TQDM_DISABLE="1")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AssetError(f"{pt2}: the litert-torch converter did not finish in {TIMEOUT_S:.0f} s") from None
    if proc.returncode != 0 or not Path(dest).is_file():
        raise AssetError(failure(Path(pt2), proc.returncode, proc.stderr))


def build_fp32(pt2: Path, dest: Path) -> None:
    convert(pt2, dest, None)


def build_int8(pt2: Path, calibration: np.ndarray, dest: Path) -> None:
    convert(pt2, dest, calibration)
