"""The host: this machine's CPU, the test process itself (every framework's own runner, in process)."""
from __future__ import annotations

import time

import numpy as np

from ptq_helpers.backends import evaluate as runners
from ptq_helpers.core.progress import say
from ptq_helpers.targets.base import Request, Target

HOST = Target("host", "this machine's CPU, in the test process", evaluation="in-process",
              evaluator="ptq_helpers.targets.host:evaluate", reference_kernels="LiteRT default (XNNPACK)")


def evaluate(target: Target, request: Request) -> tuple[np.ndarray, None]:
    """The build's framework runner in this process, on the test images in the model's contract."""
    started = time.perf_counter()
    say(f"{request.label}: evaluating {len(request.labels):,} images{request.note} ...")
    probs = request.probabilities(runners.predict(request.case, request.model, request.images(), request.threads))
    say(f"{request.label}: evaluated in {time.perf_counter() - started:.1f} s")
    return probs, None
