"""OpenVINO builds of the fp32 ONNX model (the IR as read by OpenVINO, and NNCF int8 from the same
calibration draw) and their runner (the CPU plugin, f32 precision hint).

An IR is two files (.xml graph, .bin weights); the suite stores them together in one uncompressed zip
with fixed timestamps, so a build is one content-addressed artifact whose size is the IR plus ~300 bytes
of zip headers, and the runner reads both members from memory.
"""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ptq_helpers.cases import Case, OvQuant

MEMBERS = ("model.xml", "model.bin")


def _write_ir(model, dest: Path) -> None:
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="ptq-ov-") as work:
        ov.save_model(model, str(Path(work) / MEMBERS[0]), compress_to_fp16=False)
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in MEMBERS:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, (Path(work) / name).read_bytes())


def build_fp32(source: Path, dest: Path) -> None:
    """The ONNX model converted to OpenVINO IR, weights kept in fp32."""
    import openvino as ov

    _write_ir(ov.convert_model(str(source)), dest)


def build_int8(case: Case, source: Path, calibration: np.ndarray, dest: Path) -> None:
    """nncf.quantize on every calibration image (NNCF's default subset is 300: the suite uses the whole draw)."""
    import nncf
    import openvino as ov

    q = case.quant
    assert isinstance(q, OvQuant), case
    dataset = nncf.Dataset([calibration[i:i + 1] for i in range(len(calibration))])
    quantized = nncf.quantize(ov.convert_model(str(source)), dataset, subset_size=len(calibration),
                              preset=nncf.QuantizationPreset[q.preset.upper()])
    _write_ir(quantized, dest)


def compiled(case: Case, path: Path, threads: int, batch_hint: str = "LATENCY"):
    """The IR compiled for the CPU with a fixed thread count and the case's precision hint."""
    import openvino as ov

    with zipfile.ZipFile(path) as archive:
        xml, weights = (archive.read(name) for name in MEMBERS)
    core = ov.Core()
    model = core.read_model(model=xml.decode(), weights=ov.Tensor(np.frombuffer(weights, dtype=np.uint8).copy()))
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": batch_hint}
    precision = case.quant.precision_hint if isinstance(case.quant, OvQuant) else "f32"
    if precision != "default":  # f32: the model as trained; default lets the CPU plugin pick (bf16 on AVX-512 BF16)
        config["INFERENCE_PRECISION_HINT"] = precision
    return core.compile_model(model, "CPU", config)


def runner(case: Case, path: Path, threads: int):
    """`run(images NHWC float32 0..255) -> probabilities` on OpenVINO's CPU plugin."""
    model = compiled(case, path, threads)
    output = model.output(0)
    return lambda x: model(np.ascontiguousarray(x, dtype=np.float32))[output]


def runtime_facts(case: Case, path: Path) -> dict[str, str]:
    """How the CPU plugin really runs the model (asked of the compiled model, not assumed): its inference
    precision and the precisions its convolutions and fully connected layers execute in."""
    from collections import Counter

    model = compiled(case, path, 1)
    layers = Counter()
    for node in model.get_runtime_model().get_ops():
        info = node.get_rt_info()
        if info["layerType"].astype(str) in ("Convolution", "FullyConnected"):
            layers[f"{info['layerType'].astype(str)} {info['runtimePrecision'].astype(str)}"] += 1
    return {"inference precision": model.get_property("INFERENCE_PRECISION_HINT").to_string(),
            "layers": ", ".join(f"{n}x {kind}" for kind, n in sorted(layers.items()))}
