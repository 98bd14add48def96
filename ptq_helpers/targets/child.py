"""One evaluation shard on a deployment target (started by ptq_helpers.targets.base, maybe under qemu-user):

    python -m ptq_helpers.targets.child --case ID --model PATH --images IMAGES.npy --start S --stop E \
        --threads 1 --out OUT.npy --facts FACTS.json [--executed MODULE:FUNCTION]

Loads the model with its framework's runner (the same code as the host evaluation), predicts
images[S:E], writes OUT.npy and then FACTS.json (the CPU this process saw, and timings) atomically.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ptq_helpers.backends import evaluate
from ptq_helpers.matrix import cases
from ptq_helpers.core.isa import cpu_facts

BATCH = 250


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _cpu_facts() -> dict[str, object]:
    """The CPU this process sees: CPUID on x86-64, HWCAP and MIDR_EL1 on aarch64 (both true under qemu-user)."""
    if platform.machine() in ("aarch64", "arm64"):
        from ptq_helpers.targets.arm_cpu import cpu_facts as arm_facts

        return arm_facts()
    return cpu_facts()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ptq_helpers.targets.child", description=__doc__.splitlines()[0])
    p.add_argument("--case", required=True, help="case id of the matrix")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True, help="NHWC float32 .npy (memory-mapped)")
    p.add_argument("--start", type=int, required=True)
    p.add_argument("--stop", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--facts", type=Path, required=True)
    p.add_argument("--runner", help="module:function replacing the framework's runner (the target's kernels)")
    p.add_argument("--executed", metavar="MODULE:FUNCTION", help="also ask this runtime-facts function (case, model) "
                   "which layers run as integer kernels in this process, on this CPU, and add its 'executed' to FACTS")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    cases.add_run_cases()  # the cases the parent run added (e.g. --ptq-search=size), when one is asked for
    case = cases.get(args.case)
    images = np.load(args.images, mmap_mode="r")[args.start:args.stop]
    make = cases.resolve(args.runner) if args.runner else evaluate.make_runner
    run = make(case, args.model, args.threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(args.threads)
    t1 = time.perf_counter()
    probs = np.concatenate([run(np.array(images[i:i + BATCH], dtype=np.float32))  # a writable copy of the map
                            for i in range(0, len(images), BATCH)]).astype(np.float32)
    t2 = time.perf_counter()
    buffer = io.BytesIO()
    np.save(buffer, probs)
    _atomic(args.out, buffer.getvalue())
    runtime = {"images": len(images), "load_s": round(t1 - t0, 2), "predict_s": round(t2 - t1, 2)}
    runtime.update(python=platform.python_version(), machine=platform.machine(), numpy=np.__version__)
    for module in (lib.replace("-", "_") for lib in cases.libraries()):  # the versions the child really ran
        if module in sys.modules:
            runtime[module] = getattr(sys.modules[module], "__version__", "?")
    if "torch" in sys.modules:
        runtime["torch_cpu_capability"] = sys.modules["torch"].backends.cpu.get_cpu_capability()
    seen: dict[str, object] = {"cpu": _cpu_facts(), "runtime": runtime}
    if args.executed:
        seen["executed"] = cases.resolve(args.executed)(case, args.model).get("executed")
    _atomic(args.facts, json.dumps(seen).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
