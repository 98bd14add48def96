"""avx2: an AVX2-only x86-64 CPU (no AVX-512, no VNNI). Runtimes that pick their int8 kernels by CPUID (ONNX Runtime's
MLAS, fbgemm) have no switch for it, so their evaluation runs in child processes under `qemu-x86_64 -cpu Haswell`
(user-mode emulation: CPUID itself says Haswell); oneDNN (the PT2E/Inductor int8 kernels) honours ONEDNN_MAX_CPU_ISA,
so those children run natively. On an AVX2-only host the children run natively (the host is the target)."""
from __future__ import annotations

from ptq_helpers.targets.base import Target

AVX2 = Target(
    "avx2", "an AVX2-only x86-64 CPU (no AVX-512, no VNNI): ONNX Runtime, TorchScript, LiteRT and OpenVINO under "
    "qemu-x86_64 -cpu Haswell; PT2E/Inductor natively with oneDNN, ATen and Inductor's C++ capped at AVX2",
    evaluation="emulated", qemu_cpu="Haswell",
    # oneDNN's int8 kernels, ATen's and Inductor's generated C++ (compiled by the native compiler) all at AVX2.
    env={"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "TORCHINDUCTOR_CPP_MARCH": "haswell"},
    env_formats=frozenset({"pt2"}), forbidden_flags=("avx512f", "avx512_vnni", "avx_vnni", "amx_int8"),
)
