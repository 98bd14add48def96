"""OpenVINO builds of the fp32 ONNX model (the IR as read by OpenVINO; NNCF int8 from the same calibration
draw, with or without accuracy control; OpenVINO's defaults) and their runner on the CPU plugin.

An IR is two files (.xml graph, .bin weights); the suite stores them together in one uncompressed zip
with fixed timestamps, so a build is one content-addressed artifact whose size is the IR plus ~300 bytes
of zip headers, and the runner reads both members from memory. An accuracy-controlled build also stores
what NNCF reverted and the accuracy it reached (`accuracy-control.json`, ~0.5 KB).
"""
from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from pathlib import Path

import numpy as np

from ptq_helpers.results.executed import Executed
from ptq_helpers.matrix.cases import Case, Format, Framework
from ptq_helpers.matrix.options import Option, number_in


@dataclass(frozen=True)
class OvQuant:
    """OpenVINO: NNCF post-training quantization (preset; accuracy control on held-out training images), or
    none (`nncf=False`: the fp32 graph saved with fp16 weights), and the CPU plugin's precision hint at run time."""

    preset: Literal["performance", "mixed"] = "performance"
    precision_hint: Literal["f32", "default"] = "f32"
    nncf: bool = True
    accuracy_control: bool = False  # nncf.quantize_with_accuracy_control, max drop = --ptq-ov-max-drop

    @property
    def needs_validation(self) -> bool:
        return self.accuracy_control


FRAMEWORK = Framework("openvino", "OpenVINO", "ov", build="ptq_helpers.backends.openvino.backend:build_int8",
                      build_fp32="ptq_helpers.backends.openvino.backend:build_fp32",
                      run="ptq_helpers.backends.openvino.backend:runner",
                      runtime_facts="ptq_helpers.backends.openvino.backend:runtime_facts",
                      needs=(("openvino", "openvino"), ("nncf", "openvino")),
                      libraries=("openvino", "nncf", "onnx"),
                      options=(Option("ov_max_drop", "--ptq-ov-max-drop", "ptq_ov_max_drop", number_in(0, 100), 0.1,
                                      "max top-1 drop (points) NNCF's accuracy control may accept on its held-out "
                                      "training images (ov-int8-nncf-ac, full matrix)", "N"),),
                      tools="OpenVINO `ov.convert_model` of the ONNX file and NNCF `nncf.quantize` (every calibration "
                            "image, `subset_size` = the draw) or `nncf.quantize_with_accuracy_control` (validation on "
                            "held-out training images, never test images), run on the CPU plugin with "
                            "`INFERENCE_PRECISION_HINT=f32` (the bf16 row: the plugin's default) and the LATENCY hint "
                            "for one image, THROUGHPUT (an async request queue) for batches")
FORMATS = {"ir": Format("ir.zip", "OpenVINO IR (.xml + .bin, stored uncompressed in one zip)")}

MEMBERS = ("model.xml", "model.bin")
CONTROL = "accuracy-control.json"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _write_ir(model, dest: Path, compress_to_fp16: bool = False, control: dict | None = None) -> None:
    import openvino as ov

    # OpenVINO names new nodes from a process-wide counter (`Constant_66703`), so the same graph saved after more
    # work in the process has longer names and a bigger .xml. Name every inner node by its type and position
    # instead: the IR then depends only on the graph (inputs and outputs keep their tensor names).
    for index, op in enumerate(model.get_ordered_ops()):
        if op.get_type_name() not in ("Parameter", "Result"):
            op.set_friendly_name(f"{op.get_type_name()}_{index}")
    with tempfile.TemporaryDirectory(prefix="ptq-ov-") as work:
        ov.save_model(model, str(Path(work) / MEMBERS[0]), compress_to_fp16=compress_to_fp16)
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in MEMBERS:
                archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), (Path(work) / name).read_bytes())
            if control is not None:
                archive.writestr(zipfile.ZipInfo(CONTROL, date_time=_ZIP_TIME), json.dumps(control, indent=1))


def build_fp32(source: Path, dest: Path) -> None:
    """The ONNX model converted to OpenVINO IR, weights kept in fp32."""
    import openvino as ov

    _write_ir(ov.convert_model(str(source)), dest)


def _top1(compiled, images: np.ndarray, labels: np.ndarray) -> list[float]:
    out = compiled.output(0)
    return [float(compiled(images[i:i + 1])[out].argmax(1)[0] == labels[i]) for i in range(len(labels))]


@contextmanager
def _nncf_log() -> Iterator[list[str]]:
    """NNCF's own log lines while it runs (which operations it reverted and why)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("nncf")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def reverted_from_log(lines: list[str]) -> dict[str, object]:
    """What NNCF's accuracy control did, from its own log: whether it reached the max drop, how many operations
    it quantized, and which it put back in floating point (its final summary; when it gave up after reverting
    every group it prints no summary, and every operation it named was reverted)."""
    summary, total = " were reverted back to the floating-point precision:", "Total number of quantized operations"
    gave_up = any("could not achieve the required accuracy drop" in line for line in lines)
    count, names, named = None, None, []
    for line in lines:
        head, _, rest = line.partition(summary)
        if rest or line.endswith(summary):
            of = head.split(" out of ")
            count = int(of[1]) if len(of) == 2 and of[1].strip().isdigit() else count
            names = [n.strip() for n in rest.splitlines() if n.strip()]
        elif line.startswith(total) and line.rsplit(":", 1)[1].strip().isdigit():
            count = int(line.rsplit(":", 1)[1])
        elif line.startswith("Reverted ") and "operations to the floating-point precision" in line:
            named += [n.strip() for n in line.splitlines()[1:] if n.strip()]
    all_reverted = names is None and gave_up and bool(named)
    return {"nncf_reached": not gave_up, "quantized_operations": count, "all_reverted": all_reverted,
            "reverted": list(dict.fromkeys(named)) if all_reverted else (names or [])}


def _accuracy_controlled(model, dataset, validation: tuple[np.ndarray, np.ndarray], max_drop: float, preset):
    """nncf.quantize_with_accuracy_control, and what it did: reverted operations and the validation top-1
    of the fp32 and the final model, measured here on the held-out images (not taken from NNCF's log)."""
    import nncf
    import openvino as ov

    images, labels = validation
    items = nncf.Dataset([(images[i:i + 1], int(labels[i])) for i in range(len(labels))], lambda item: item[0])

    def validate(compiled, data) -> tuple[float, list[float]]:
        hits = [float(compiled(x)[compiled.output(0)].argmax(1)[0] == y) for x, y in data]
        return float(np.mean(hits)), hits

    with _nncf_log() as lines:
        quantized = nncf.quantize_with_accuracy_control(
            model, dataset, items, validate, max_drop=max_drop / 100, drop_type=nncf.DropType.ABSOLUTE,
            preset=preset, subset_size=dataset.get_length())
    core = ov.Core()
    fp32, final = (100 * np.mean(_top1(core.compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}), images,
                                       labels)) for m in (model, quantized))
    control = {"validation_images": int(len(labels)), "max_drop_points": max_drop,
               "fp32_top1": round(float(fp32), 2), "final_top1": round(float(final), 2),
               "drop_points": round(float(fp32 - final), 2), "reached": bool(fp32 - final <= max_drop + 1e-9),
               **reverted_from_log(lines)}
    return quantized, control


def build_int8(case: Case, source: Path, calibration: np.ndarray, dest: Path,
               validation: tuple[np.ndarray, np.ndarray] | None = None, ov_max_drop: float | None = None) -> None:
    """nncf.quantize on every calibration image (NNCF's default subset is 300: the suite uses the whole draw);
    with accuracy control, validated on `validation` (held-out training images); without NNCF, the fp32 graph
    saved the way `ov.save_model` does by default (fp16 weights)."""
    import nncf
    import openvino as ov

    q = case.quant
    assert isinstance(q, OvQuant), case
    model = ov.convert_model(str(source))
    if not q.nncf:
        _write_ir(model, dest, compress_to_fp16=True)
        return
    dataset = nncf.Dataset([calibration[i:i + 1] for i in range(len(calibration))])
    preset = nncf.QuantizationPreset[q.preset.upper()]
    if q.accuracy_control:
        if validation is None or ov_max_drop is None:
            raise ValueError(f"{case.id}: accuracy control needs held-out validation images and a max drop")
        quantized, control = _accuracy_controlled(model, dataset, validation, ov_max_drop, preset)
        _write_ir(quantized, dest, control=control)
        return
    _write_ir(nncf.quantize(model, dataset, subset_size=len(calibration), preset=preset), dest)


def compiled(case: Case, path: Path, threads: int, hint: str = "LATENCY"):
    """The IR compiled for the CPU with a fixed thread count, a performance hint and the case's precision hint."""
    import openvino as ov

    with zipfile.ZipFile(path) as archive:
        xml, weights = (archive.read(name) for name in MEMBERS)
    core = ov.Core()
    model = core.read_model(model=xml.decode(), weights=ov.Tensor(np.frombuffer(weights, dtype=np.uint8).copy()))
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": hint}
    precision = case.quant.precision_hint if isinstance(case.quant, OvQuant) else "f32"
    if precision != "default":  # f32: the model as trained; default lets the CPU plugin pick (bf16 on AVX-512 BF16)
        config["INFERENCE_PRECISION_HINT"] = precision
    return core.compile_model(model, "CPU", config)


def runner(case: Case, path: Path, threads: int):
    """`run(images NHWC float32 0..255) -> probabilities` on OpenVINO's CPU plugin: one image goes to a model
    compiled with the LATENCY hint; a batch is split over the infer requests of one compiled with the THROUGHPUT
    hint (its streams share the threads) and run through an async queue, as OpenVINO advises for throughput."""
    import openvino as ov

    latency = compiled(case, path, threads, "LATENCY")
    throughput = compiled(case, path, threads, "THROUGHPUT")
    queue = ov.AsyncInferQueue(throughput, throughput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    one = latency.output(0)

    def run(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) == 1:
            return latency(x)[one]
        out = np.empty((len(x), 10), dtype=np.float32)
        parts = np.array_split(np.arange(len(x)), min(len(queue), len(x)))

        def done(request, part: int) -> None:
            out[parts[part]] = request.get_output_tensor(0).data

        queue.set_callback(done)
        for part, rows in enumerate(parts):
            queue.start_async({0: x[rows]}, part)
        queue.wait_all()
        return out

    return run


INTEGER_PRECISIONS = ("u8", "i8", "u4", "i4")  # runtimePrecision of a layer that runs an integer kernel


def runtime_facts(case: Case, path: Path) -> dict[str, object]:
    """How the CPU plugin really runs the model (asked of the compiled model, not assumed): its inference
    precision and the precision each convolution and fully connected layer executes in (named by the first
    original layer the runtime node fuses); for an accuracy-controlled build, what NNCF reverted and the held-out
    top-1 it reached."""
    from collections import Counter

    model = compiled(case, path, 1)
    layers = Counter()
    integer, floating, kernels = [], [], {}
    ops = sorted(model.get_runtime_model().get_ops(), key=lambda n: int(n.get_rt_info()["execOrder"].astype(str)))
    for node in ops:
        info = node.get_rt_info()
        kind, precision = info["layerType"].astype(str), info["runtimePrecision"].astype(str)
        if kind in ("Convolution", "FullyConnected", "MatMul"):
            layers[f"{kind} {precision}"] += 1
            name = info["originalLayersNames"].astype(str).split(",")[0]
            kernels[name] = f"{kind} {precision} ({info['primitiveType'].astype(str)})"
            (integer if precision.lower() in INTEGER_PRECISIONS else floating).append(name)
    hint = model.get_property("INFERENCE_PRECISION_HINT").to_string()
    facts: dict[str, object] = {
        "inference precision": hint, "layers": ", ".join(f"{n}x {kind}" for kind, n in sorted(layers.items())),
        "executed": Executed(
            tuple(integer), tuple(floating), kernels=kernels,
            causes=tuple(f"{n}: runtime precision {kernels[n].split()[1]} (inference precision hint {hint})"
                         for n in floating),
            how="OpenVINO CPU plugin's runtime model (compiled with the runner's settings on this CPU): each "
                "Convolution/FullyConnected node's runtimePrecision, in execution order").to_json()}
    with zipfile.ZipFile(path) as archive:
        if CONTROL in archive.namelist():
            facts["accuracy control"] = control_summary(json.loads(archive.read(CONTROL)))
    return facts


def control_summary(c: dict) -> str:
    """One sentence: NNCF's verdict, what it reverted, and the held-out top-1 measured on the final model."""
    total = f" of {c['quantized_operations']}" if c.get("quantized_operations") else ""
    if c.get("all_reverted"):
        reverted = f"all {len(c['reverted'])}{total} quantized operations reverted: the model runs in floating point"
    elif c["reverted"]:
        reverted = (f"{len(c['reverted'])}{total} quantized operations reverted to floating point "
                    f"({', '.join(c['reverted'])})")
    else:
        reverted = "no operation reverted"
    verdict = "reached" if c.get("nncf_reached", c["reached"]) else "did NOT reach"
    return (f"NNCF {verdict} max drop {c['max_drop_points']:g} pt, {reverted}; measured on "
            f"{c['validation_images']:,} held-out training images: fp32 {c['fp32_top1']:.2f}%, final "
            f"{c['final_top1']:.2f}% (drop {c['drop_points']:+.2f} pt, "
            f"{'within' if c['reached'] else 'ABOVE'} the max)")
