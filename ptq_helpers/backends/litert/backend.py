"""LiteRT (TFLite) builds and their host runner (ai-edge-litert, XNNPACK), from the source's kind (its suffix):

- a Keras `.h5` (the MLPerf Tiny model): `litert-fp32` is TFLiteConverter's float model; `litert-int8` is
  full-integer PTQ (Optimize.DEFAULT, representative dataset = the suite's calibration images one at a time, int8
  kernels only, int8 input and output). TensorFlow runs only in a child process (`python -m ptq_helpers.backends
  litert`), so the test process never imports it next to torch.
- a torch.export `.pt2` (a PyTorch source): litert-torch and ai-edge-quantizer in their own environment, as a
  child process (ptq_helpers.backends.litert.pt2).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptq_helpers.results.executed import Executed
from ptq_helpers.matrix.cases import Case, Format, Framework, SizeKind
from ptq_helpers.core.errors import AssetError, UnsupportedQuantization


@dataclass(frozen=True)
class LiteRTQuant:
    """tf.lite.TFLiteConverter full-integer post-training quantization settings."""

    optimizations: str = "DEFAULT"
    supported_ops: str = "TFLITE_BUILTINS_INT8"  # or EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 (16x8)
    io_type: str = "int8"  # inference input/output type: int8, or int16 for 16x8
    representative_dataset: str = "calibration draw, one image per step"
    bias_type: str = "default"  # converter._experimental_full_integer_quantization_bias_type: default, int32, int64

    @property
    def int16_activations(self) -> bool:
        return "INT16" in self.supported_ops

    def converter_settings(self) -> dict[str, str]:
        return {"supported_ops": self.supported_ops, "io_type": self.io_type, "bias_type": self.bias_type}


# XNNPACK (the interpreter's default delegate) has no int16-activation kernels: a 16x8 build runs on LiteRT's
# built-in kernels, and its facts say so.
NO_XNNPACK = ("XNNPACK has no int16-activation kernels, so this 16x8 build runs on LiteRT's built-in kernels "
              "(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)")


FRAMEWORK = Framework("litert", "LiteRT", "litert", build="ptq_helpers.backends.litert.backend:build_int8",
                      build_fp32="ptq_helpers.backends.litert.backend:build_fp32",
                      run="ptq_helpers.backends.litert.backend:runner", source="h5",
                      runtime_facts="ptq_helpers.backends.litert.backend:runtime_facts",
                      unready="ptq_helpers.backends.litert.pt2:unready",
                      needs=(("ai_edge_litert", "litert"), ("tensorflow", "litert")),
                      size_kind=SizeKind("tflite", "TFLite file (vs the float .tflite)", 55.0),
                      libraries=("ai-edge-litert", "tensorflow-cpu"),
                      # the .pt2 path: its converter child, and the environment's pins (litert-torch's version)
                      code=("ptq_helpers.backends.litert.pt2", "ptq_helpers.backends.litert.pt2_child",
                            "ptq_helpers.backends.litert.torch_setup"),
                      tools="LiteRT `tf.lite.TFLiteConverter.from_keras_model` on the Keras .h5 (`Optimize.DEFAULT`, "
                            "representative dataset = the calibration images one per step, `TFLITE_BUILTINS_INT8`, "
                            "int8 input/output), or for a PyTorch .pt2 `litert_torch.convert` and ai-edge-quantizer's "
                            "`static_wi8_ai8` (per-channel int8 weights, int8 activations and input/output, the same "
                            "calibration images one per step); run with ai-edge-litert's default kernels (XNNPACK)")
FORMATS = {"tflite": Format("tflite", "TFLite flatbuffer")}

MAX_BATCH = 500  # images per invoke: bounds activation memory


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: type[np.integer]) -> np.ndarray:
    """q = round(x / scale) + zero_point, ties away from zero (as TFLite), saturated to dtype."""
    info = np.iinfo(dtype)
    v = x.astype(np.float32) / np.float32(scale)
    return np.clip(np.trunc(v + np.copysign(np.float32(0.5), v)) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return ((q.astype(np.int32) - zero_point) * np.float32(scale)).astype(np.float32)


def _convert(h5: Path, calibration: Path | None, dest: Path, settings: dict[str, str] | None = None) -> None:
    """Runs in the child: the only place TensorFlow is imported."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(h5, compile=False, safe_mode=True))
    if calibration is not None:
        images = np.load(calibration).astype(np.float32, copy=False)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[np.newaxis]] for image in images)
        settings = settings or LiteRTQuant().converter_settings()
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, settings["supported_ops"])]
        converter.inference_input_type = converter.inference_output_type = getattr(tf, settings["io_type"])
        if settings["bias_type"] != "default":
            converter._experimental_full_integer_quantization_bias_type = getattr(tf, settings["bias_type"])  # noqa: SLF001
    dest.write_bytes(converter.convert())


def _run_converter(h5: Path, dest: Path, calibration: np.ndarray | None, quant: LiteRTQuant | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="ptq-litert-") as work:
        cmd = [sys.executable, "-m", "ptq_helpers.backends", "litert.backend", "--h5", str(h5), "--out", str(dest)]
        if calibration is not None:
            np.save(Path(work) / "calibration.npy", np.ascontiguousarray(calibration, dtype=np.float32))
            cmd += ["--calibration", str(Path(work) / "calibration.npy"),
                    "--settings", json.dumps((quant or LiteRTQuant()).converter_settings())]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "2"})
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:]) or "no error output"
        raise AssetError(f"{h5}: TFLiteConverter failed (exit {proc.returncode}); check the file is the MLPerf Tiny "
                         f"pretrainedResnet.h5 and that the 'convert' extra is installed (pip install -e "
                         f"'.[convert,litert]'). Last lines:\n{tail}")


def build_fp32(source: Path, dest: Path) -> None:
    """The float .tflite of the Keras model (.h5) or of the PyTorch program (.pt2)."""
    if Path(source).suffix == ".pt2":
        from ptq_helpers.backends.litert import pt2 as litert_pt2

        litert_pt2.build_fp32(source, dest)
        return
    _run_converter(source, dest, None)


def build_int8(case: Case, source: Path, calibration: np.ndarray, dest: Path) -> None:
    """Full-integer .tflite (int8, or 16x8 by the case's settings; integer input and output) calibrated on
    `calibration` (float32 images in the model's own input contract: NHWC pixels 0..255 for the Keras model)."""
    assert isinstance(case.quant, LiteRTQuant), case
    if Path(source).suffix == ".pt2":
        from ptq_helpers.backends.litert import pt2 as litert_pt2

        if _int16(case):
            raise UnsupportedQuantization(f"{case.id}: 16x8 is built by TFLiteConverter from a Keras .h5; the "
                                          f"PyTorch program's converter (litert-torch + ai-edge-quantizer) makes "
                                          f"the int8 rows only")
        litert_pt2.build_int8(source, calibration, dest)
        return
    _run_converter(source, dest, calibration, case.quant)


def _int16(case: Case) -> bool:
    return bool(getattr(case.quant, "int16_activations", False))


def runner(case: Case, path: Path, threads: int):
    """ai-edge-litert's default kernels (XNNPACK; the built-in kernels for a 16x8 build: NO_XNNPACK) as
    `run(float32 images in the model's input contract, any layout) -> the model's outputs`; the input shape is the
    file's (batch resized), integer input is quantized and integer output dequantized with the tensors' own
    parameters."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if _int16(case) else OpResolverType.AUTO
    interpreter = Interpreter(model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    (in_scale, in_zp), (out_scale, out_zp) = inp["quantization"], out["quantization"]
    batch = [int(inp["shape"][0])]

    def invoke(chunk: np.ndarray) -> np.ndarray:
        if batch[0] != len(chunk):
            interpreter.resize_tensor_input(inp["index"], [len(chunk), *inp["shape"][1:]])
            interpreter.allocate_tensors()
            batch[0] = len(chunk)
        feed = (chunk.astype(np.float32) if inp["dtype"] == np.float32
                else quantize(chunk, in_scale, in_zp, inp["dtype"]))
        interpreter.set_tensor(inp["index"], np.ascontiguousarray(feed))
        interpreter.invoke()
        result = interpreter.get_tensor(out["index"])
        return result.astype(np.float32) if out["dtype"] == np.float32 else dequantize(result, out_scale, out_zp)

    return lambda x: np.concatenate([invoke(x[i:i + MAX_BATCH]) for i in range(0, len(x), MAX_BATCH)])


COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")


def layer_name(tensor_name: str) -> str:
    """The Keras layer of a fused op's output tensor ('model_1/activation_1/Relu;...;model_1/conv2d_1/BiasAdd;...'
    -> 'model_1/conv2d_1/BiasAdd', the name the ONNX conversion of the same .h5 gives that layer)."""
    parts = tensor_name.split(";")
    return next((p for p in parts if p.endswith(("/BiasAdd", "/MatMul")) and ("/conv2d" in p or "/dense" in p)),
                parts[0])


def executed_precision(path: Path, how: str, delegate: bool = True, kernel_note: str = "") -> dict[str, object]:
    """The .tflite's compute ops with their input and weight tensor types, as the interpreter reports them (an op
    with int8/int16 input and int8 weights runs an integer kernel in every TFLite runtime; a float one runs float)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    integer, floating, kernels, delegated = [], [], {}, 0
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the interpreter's only per-op listing
        if op["op_name"] == "DELEGATE":
            delegated += 1
        if op["op_name"] not in COMPUTE_OPS:
            continue
        name = layer_name(tensors[op["outputs"][0]]["name"])
        types = [np.dtype(tensors[i]["dtype"]).name for i in op["inputs"][:2] if i >= 0]
        kernels[name] = f"{op['op_name']} ({'/'.join(types)})"
        (integer if all(t.startswith(("int", "uint")) for t in types) else floating).append(name)
    executed = Executed(tuple(integer), tuple(floating), how=how, kernels=kernels, kernel_note=kernel_note,
                        causes=tuple(f"{n}: float input or weights in the file" for n in floating))
    return {"executed": executed.to_json(),
            **({"delegate": f"{delegated} XNNPACK delegate partition(s) applied by the default interpreter"}
               if delegate else {})}


def runtime_facts(case: Case, path: Path) -> dict[str, object]:
    """What the LiteRT interpreter (ai-edge-litert, default XNNPACK delegate) runs: its ops and tensor types."""
    from importlib.metadata import version

    if _int16(case):  # what the default interpreter would do with it, then what the runner runs
        tried = executed_precision(path, "", delegate=True)["delegate"]
        return executed_precision(path, f"ai-edge-litert {version('ai-edge-litert')} interpreter's ops and tensor "
                                        "types, built-in kernels (no delegate)", delegate=False,
                                  kernel_note=f"{NO_XNNPACK}; tried: {tried}")
    return executed_precision(path, f"ai-edge-litert {version('ai-edge-litert')} interpreter's ops and tensor types "
                                    "(the ops the XNNPACK delegate takes keep their int8/float types)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ptq_helpers.backends litert.backend",
                                     description="convert the .h5 to .tflite")
    parser.add_argument("--h5", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, help="NHWC float32 .npy: full-integer when given")
    parser.add_argument("--settings", type=json.loads, help="JSON: supported_ops, io_type, bias_type")
    args = parser.parse_args(argv)
    _convert(args.h5, args.calibration, args.out, args.settings)

