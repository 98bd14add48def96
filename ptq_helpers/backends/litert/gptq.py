"""GPTQ (Frantar et al., 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers")
for chosen CONV_2D layers of a float .tflite, on litert-quantizer's symmetric per-channel 4-bit grid.

Per layer: the layer's input activations on the calibration images (the float model, all tensors kept), unfolded
to im2col rows in the weights' OHWI order; H = XᵀX / n (+1% damping); the columns quantized one at a time with the
rounding error spread over the columns not yet quantized through the inverse Hessian's Cholesky factor. The scale
is litert-quantizer's min-max one (max |w| / 7 per output channel) and each channel's largest weight is kept at
±7, so the quantizer's min-max, run afterwards on the rewritten float weights, finds the same scale and reproduces
exactly these integers. Runs in the builder's child process (ai-edge-litert, numpy).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

QMAX = 7  # signed 4-bit, narrow: litert-quantizer's symmetric scale is max|w| / 7
DAMP = 0.01  # of the mean diagonal of H, as the paper's reference code


Activation = tuple[np.ndarray, str, tuple[int, int]]


def _activations(path: Path, images: np.ndarray, layers: tuple[str, ...]) -> dict[str, Activation]:
    """Each layer's float input on the images, its weight tensor's name and its output's spatial size."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], [len(images), *inp["shape"][1:]])
    it.allocate_tensors()
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = {layer: op for op in it._get_ops_details() if op["op_name"] == "CONV_2D"  # noqa: SLF001
           for layer in layers if f"/{layer}/" in tensors[op["inputs"][1]]["name"] + "/"}
    missing = sorted(set(layers) - set(ops))
    if missing:
        raise ValueError(f"no CONV_2D layer named {', '.join(missing)} in {path}")
    it.set_tensor(inp["index"], images.astype(np.float32))
    it.invoke()
    return {layer: (it.get_tensor(op["inputs"][0]).copy(), tensors[op["inputs"][1]]["name"],
                    tuple(int(d) for d in tensors[op["outputs"][0]]["shape"][1:3])) for layer, op in ops.items()}


def im2col(x: np.ndarray, k: int, out_hw: tuple[int, int]) -> np.ndarray:
    """SAME-padded k×k patches of NHWC `x` at the stride that gives `out_hw`, as rows in (kh, kw, c) order."""
    _, h, w, c = x.shape
    s = h // out_hw[0]
    ph, pw = max((out_hw[0] - 1) * s + k - h, 0), max((out_hw[1] - 1) * s + k - w, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cols = [xp[:, i:i + s * out_hw[0]:s, j:j + s * out_hw[1]:s, :] for i in range(k) for j in range(k)]
    return np.stack(cols, axis=3).reshape(-1, k * k * c)


def quantize(weights: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """GPTQ of `weights` (out × in) for `hessian` (in × in): the dequantized 4-bit weights."""
    w = weights.astype(np.float64).copy()
    scale = np.maximum(np.abs(w).max(1), 1e-9) / QMAX
    largest = np.abs(w).argmax(1)
    h = hessian.astype(np.float64).copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += DAMP * np.mean(np.diag(h)) * np.eye(len(h))
    hinv = np.linalg.cholesky(np.linalg.inv(h)).T  # upper factor
    out = np.zeros_like(w)
    for j in range(w.shape[1]):
        q = np.clip(np.round(w[:, j] / scale), -QMAX, QMAX)
        keep = largest == j
        q[keep] = np.sign(weights[keep, j]) * QMAX  # the channel's range, so min-max finds the same scale
        out[:, j] = q * scale
        err = (w[:, j] - out[:, j]) / hinv[j, j]
        w[:, j + 1:] -= np.outer(err, hinv[j, j + 1:])
    return out.astype(np.float32)


def rewrite(src: Path, dest: Path, layers: tuple[str, ...], images: np.ndarray) -> dict[str, float]:
    """Write `src` with the layers' float weights replaced by their GPTQ 4-bit values; returns per layer the output
    error ratio GPTQ / round-to-nearest on the calibration images (below 1: GPTQ did better)."""
    from ai_edge_litert.tools import flatbuffer_utils

    acts = _activations(src, images, layers)
    model = flatbuffer_utils.read_model(str(src))
    graph = model.subgraphs[0]
    ratios = {}
    for layer, (x, weight_name, out_hw) in acts.items():
        tensor = next(t for t in graph.tensors if t.name.decode() == weight_name)
        buffer = model.buffers[tensor.buffer]
        w = np.frombuffer(bytes(buffer.data), np.float32).reshape(tensor.shape)
        flat = w.reshape(w.shape[0], -1).astype(np.float64)
        cols = im2col(x.astype(np.float64), int(w.shape[1]), out_hw)
        hessian = cols.T @ cols / len(cols)
        q = quantize(flat, hessian)
        scale = np.maximum(np.abs(flat).max(1, keepdims=True), 1e-9) / QMAX
        rtn = np.clip(np.round(flat / scale), -QMAX, QMAX) * scale

        def err(m: np.ndarray) -> float:
            return float(np.einsum("ok,kl,ol->", flat - m, hessian, flat - m))
        ratios[layer] = round(err(q) / max(err(rtn), 1e-30), 4)
        buffer.data = np.frombuffer(q.reshape(w.shape).astype(np.float32).tobytes(), np.uint8)
    flatbuffer_utils.write_model(model, str(dest))
    return ratios
