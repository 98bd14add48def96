"""Per-image answers: which test images a model's answer flipped on between two runs (right→wrong, wrong→right),
and where builds or targets of one run disagree. Works from the records' predicted classes (the JSON's
per-record `predictions`, in the image order the JSON's `images` entry states) and the true labels."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ptq_helpers.analysis.stats import mcnemar_exact
from ptq_helpers.results.record import ModelRecord

FIRST = 10  # images listed per direction; the count is always given


@dataclass(frozen=True)
class Flip:
    """One test image whose answer changed: its index in the test set, true class, OLD's and NEW's answer."""

    index: int
    true: int
    old: int
    new: int


@dataclass(frozen=True)
class Flips:
    """How two sets of answers to the same images differ."""

    right_to_wrong: tuple[Flip, ...]
    wrong_to_right: tuple[Flip, ...]
    wrong_to_other_wrong: int  # wrong both times, with another class
    mcnemar_p: float

    @property
    def identical(self) -> bool:
        return not (self.right_to_wrong or self.wrong_to_right or self.wrong_to_other_wrong)

    def summary(self) -> str:
        if self.identical:
            return "identical answers"
        return (f"answers changed on {len(self.right_to_wrong) + len(self.wrong_to_right) + self.wrong_to_other_wrong}"
                f" images: {len(self.right_to_wrong)} right→wrong, {len(self.wrong_to_right)} wrong→right, "
                f"{self.wrong_to_other_wrong} wrong→other wrong (McNemar p {self.mcnemar_p:.3g})")

    def listing(self, classes: Sequence[str], first: int = FIRST) -> list[str]:
        """'right→wrong (12): #31 cat→dog, ... (first 10 of 12)' and the same for wrong→right."""
        out = []
        for name, flips in (("right→wrong", self.right_to_wrong), ("wrong→right", self.wrong_to_right)):
            if flips:
                shown = ", ".join(f"#{f.index} {classes[f.true]}: {classes[f.old]}→{classes[f.new]}"
                                  for f in flips[:first])
                more = f" (first {first} of {len(flips)})" if len(flips) > first else ""
                out.append(f"{name} ({len(flips)}): {shown}{more}")
        return out


def flips(old: np.ndarray, new: np.ndarray, labels: np.ndarray) -> Flips:
    """The images whose answer differs between `old` and `new` predicted classes (same image order)."""
    a, b = old == labels, new == labels
    r2w = np.flatnonzero(a & ~b)
    w2r = np.flatnonzero(~a & b)
    other = int((~a & ~b & (old != new)).sum())
    p = mcnemar_exact(a, b)[2]  # exact, integer arithmetic: no scipy.stats import (seconds) in a reader

    def made(idx: np.ndarray) -> tuple[Flip, ...]:
        return tuple(Flip(int(i), int(labels[i]), int(old[i]), int(new[i])) for i in idx)

    return Flips(made(r2w), made(w2r), other, p)


def target_disagreements(records: Mapping[str, ModelRecord]) -> dict[str, list[int]]:
    """Per build measured on more than one target: the images on which its targets' answers are not all the same."""
    groups: dict[str, list[np.ndarray]] = {}
    for r in records.values():
        p = r.predicted()
        if p is not None:
            groups.setdefault(r.id, []).append(p)
    out = {}
    for mid, preds in groups.items():
        if len(preds) > 1:
            stack = np.stack(preds)
            out[mid] = [int(i) for i in np.flatnonzero((stack != stack[0]).any(axis=0))]
    return out


def build_disagreements(records: Mapping[str, ModelRecord], labels: np.ndarray, top: int = FIRST
                        ) -> list[tuple[int, int, int, dict[int, int]]]:
    """The images on which the host's quantized builds of one source disagree most: (index, true class, how many
    builds are wrong, predicted class -> builds), most disputed first."""
    preds = [r.predicted() for r in records.values() if r.target == "host" and not r.is_fp32]
    preds = [p for p in preds if p is not None]
    if len(preds) < 2:
        return []
    stack = np.stack(preds)
    wrong = (stack != labels).sum(axis=0)
    distinct = np.array([len(set(col)) for col in stack.T])
    order = np.lexsort((-distinct, -wrong))
    return [(int(i), int(labels[i]), int(wrong[i]), {int(c): int((stack[:, i] == c).sum()) for c in set(stack[:, i])})
            for i in order[:top] if wrong[i] > 0 and distinct[i] > 1]
