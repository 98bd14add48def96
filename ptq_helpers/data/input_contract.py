"""The model's input/output contract: how the CIFAR-10 pixels are fed to it and what comes out.

The reference (MLPerf Tiny's Keras model) takes float32 NHWC pixels 0..255 on an input named `input` and gives
probabilities. A model trained in PyTorch usually takes NCHW, pixels scaled to 0..1 and normalized per channel, and
gives logits. What can be read from the model is read (input name and shape, a softmax at the output); what cannot
(scale, mean, std) comes from --ptq-input-scale/-mean/-std. Every framework's calibration, evaluation, probe and
benchmark is fed `prepare(pixels)` of the same images; a logits model's outputs go through softmax before any
statistic that needs probabilities (`probabilities`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from ptq_helpers.core.errors import ConfigError

Layout = Literal["nhwc", "nchw"]
Output = Literal["probabilities", "logits"]
LAYOUTS: dict[str, tuple[int | None, ...]] = {"nhwc": (32, 32, 3), "nchw": (3, 32, 32)}
LAYOUT_WORDS = {"nhwc": "NHWC, channels last", "nchw": "NCHW, channels first"}


@dataclass(frozen=True)
class ContractOptions:
    """What the user says of the contract (--ptq-input-layout/-scale/-mean/-std); None where not given."""

    layout: Literal["auto", "nhwc", "nchw"] = "auto"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class InputContract:
    """How the model is fed and what it returns (recorded in the JSON's meta, the header and the report)."""

    name: str = "input"
    layout: Layout = "nhwc"
    scale: float = 1.0  # pixels (0..255) x scale ...
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # ... then minus mean, divided by std, per channel (R,G,B)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    output: Output = "probabilities"
    layout_from: str = "the input's shape"  # how the layout was decided
    output_from: str = "a Softmax at the output"  # how the output kind was decided

    @property
    def shape(self) -> tuple[str | int, ...]:
        return ("N", *LAYOUTS[self.layout])

    @property
    def is_reference(self) -> bool:
        """The Keras training contract (today's default): NHWC pixels 0..255 in, probabilities out."""
        return (self.layout, self.scale, self.mean, self.std, self.output) == (
            "nhwc", 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "probabilities")

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """CIFAR-10 pixels (N,32,32,3, 0..255) as the model takes them: float32, scaled, normalized, in its layout."""
        x = pixels.astype(np.float32)
        if self.scale != 1.0:
            x *= np.float32(self.scale)
        if self.mean != (0.0, 0.0, 0.0):
            x -= np.asarray(self.mean, np.float32)
        if self.std != (1.0, 1.0, 1.0):
            x /= np.asarray(self.std, np.float32)
        if self.layout == "nchw":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return x

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The model's outputs as probabilities: softmax of logits (float64, then float32), probabilities as they
        are."""
        if self.output == "probabilities":
            return outputs
        z = outputs.astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def describe(self) -> str:
        """One line for the header and the report."""
        feed = "pixels 0..255" if self.scale == 1.0 else f"pixels x {self.scale:g}"
        if self.mean != (0.0, 0.0, 0.0):
            feed = f"({feed} - mean {_triple(self.mean)})"
        if self.std != (1.0, 1.0, 1.0):
            feed = f"{feed} / std {_triple(self.std)}"
        out = ("probabilities out" if self.output == "probabilities"
               else "logits out (softmax applied for the statistics)")
        return (f"input {self.name!r} float32 {self.layout.upper()} ({', '.join(map(str, self.shape))}) = {feed}; "
                f"{out} [layout from {self.layout_from}; output from {self.output_from}]")

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "shape": list(self.shape), "description": self.describe()}

    def key(self) -> dict[str, object]:
        """What shapes the images a model is fed and how its outputs are read (part of the cache keys)."""
        return {k: v for k, v in asdict(self).items() if k not in ("layout_from", "output_from")}


def _triple(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)


def layout_of(dims: Sequence[int | None]) -> Layout | None:
    """The layout an input shape (batch first) says, or None when it is neither (N,32,32,3) nor (N,3,32,32)."""
    tail = tuple(dims[1:])
    return next((name for name, shape in LAYOUTS.items() if len(dims) == 4 and tail == shape), None)


def resolve(name: str, dims: Sequence[int | str | None], softmax: bool, options: ContractOptions,
            where: str) -> InputContract:
    """The contract of a model whose input `name` has shape `dims` (batch first; None or a name for a dynamic
    dimension) and whose output is (softmax) or is not (logits) a Softmax, with the user's options; a layout option
    that contradicts the shape is refused here, before any test, naming the option and what was seen."""
    shown = "(" + ", ".join("N" if not isinstance(d, int) else str(d) for d in dims) + ")"
    numeric = [d if isinstance(d, int) else None for d in dims]
    seen = layout_of(numeric)
    if seen is None:
        raise ConfigError(f"{where}: input {name!r} has shape {shown}; the suite feeds 32x32 RGB images as "
                          f"(N, 32, 32, 3) NHWC or (N, 3, 32, 32) NCHW; export the model with one of those input "
                          f"shapes (batch first)")
    if options.layout != "auto" and options.layout != seen:
        raise ConfigError(f"--ptq-input-layout {options.layout}: {where} has input {name!r} of shape {shown}, "
                          f"which is {LAYOUT_WORDS[seen]}; pass --ptq-input-layout {seen} (or auto, which reads "
                          f"the layout from the input's shape)")
    return InputContract(
        name=name, layout=seen, scale=options.scale, mean=options.mean, std=options.std,
        output="probabilities" if softmax else "logits",
        layout_from="the input's shape" if options.layout == "auto" else "--ptq-input-layout, matching the shape",
        output_from="a Softmax at the output" if softmax else "no Softmax at the output")
