"""Held-out selection of the best build per backend: chosen on one half, reported on the other, with win
probabilities and a tie verdict (synthetic per-image results, no models needed)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from ptq_helpers.analysis import selection
from ptq_helpers.report import document as report, payload as results
from ptq_helpers.results.record import linked
from ptq_helpers.matrix.thresholds import Thresholds
from tests import fakes

LABELS = "".join(str(c) for c in np.repeat(np.arange(10), 1000))


def _hits(correct: np.ndarray) -> str:
    return np.packbits(correct).tobytes().hex()


def _fp32_and_int8() -> tuple[np.ndarray, np.ndarray]:
    """Per-image hits of an fp32 model right on 8719 images and of an int8 one right on 8612 of them."""
    base = np.zeros(10_000, bool)
    base[np.random.default_rng(0).choice(10_000, 8719, replace=False)] = True
    int8 = base.copy()
    int8[np.flatnonzero(base)[:107]] = False
    return base, int8


def _records(gap: int) -> dict:
    """ort-fp32 right on 8719 images; ort-int8-qdq on 8612; ort-uint8-qdq on 8612 + `gap` more."""
    base, int8 = _fp32_and_int8()
    uint8 = int8.copy()
    uint8[np.flatnonzero(~int8)[:gap]] = True
    recs = fakes.seed_records()
    hits = {"ort-fp32": base, "ort-int8-qdq": int8, "ort-uint8-qdq": uint8}
    return linked(replace(r, hits=_hits(hits[r.id]), correct=int(hits[r.id].sum()),
                          accuracy=hits[r.id].sum() / 100) if r.id in hits else r for r in recs.values())


def test_halves_are_fixed_and_stratified() -> None:
    labels = np.repeat(np.arange(10), 1000)
    a = selection.half_a(labels)
    assert np.array_equal(a, selection.half_a(labels)) and a.sum() == 5000
    assert np.bincount(labels[a], minlength=10).tolist() == [500] * 10


def test_a_clear_winner_is_chosen_on_one_half_and_reported_on_the_other() -> None:
    out = selection.held_out(_records(gap=150), Thresholds(), LABELS)["backends"]["onnxruntime"]
    assert out["verdict"] == "clear" and out["recommended"] == "ort-uint8-qdq"
    assert [c["model"] for c in out["cross_fitted"]] == ["ort-uint8-qdq"] * 2
    assert {(c["selected_on"], c["reported_on"]) for c in out["cross_fitted"]} == {("A", "B"), ("B", "A")}
    assert out["win_probability"]["ort-uint8-qdq"] > 0.99


def test_inseparable_builds_are_a_tie_and_the_smaller_file_is_recommended() -> None:
    recs = _records(gap=3)  # 0.03 point apart: not separable on 10,000 images
    out = selection.held_out(recs, Thresholds(), LABELS)["backends"]["onnxruntime"]
    assert out["verdict"] == "tie" and set(out["tied"]) == {"ort-uint8-qdq", "ort-int8-qdq"}
    smaller = min(("ort-int8-qdq", "ort-uint8-qdq"), key=lambda k: recs[k].size_bytes)
    assert out["recommended"] == smaller and 0.0 < out["win_probability"]["ort-uint8-qdq"] < 1.0
    run = fakes.run_results(recs)
    run.labels = LABELS
    data = json.loads(json.dumps(results.payload(run, Thresholds(), {})))
    assert data["selection"]["seed"] == selection.SPLIT_SEED and len(data["selection"]["half_a"]) == 2500
    text = report.render(data)
    assert "## Best per backend, chosen on held-out images" in text
    assert f"tie among 2: ship `{smaller}` (smallest)" in text
    assert "on held-out images a **tie** with 1 other build(s)" in text



def _two_backends(gap: int) -> dict:
    """ort-fp32 and torch-fp32 right on the same 8719 images; ort-int8-qdq on 8612; torch-int8-fx right on 50 + `gap`
    images ort misses and wrong on 50 it gets (uint8 is dropped so each backend has one build)."""
    base, ort = _fp32_and_int8()
    torch = ort.copy()
    torch[np.flatnonzero(~ort)[:50 + gap]] = True
    torch[np.flatnonzero(ort)[:50]] = False
    hits = {"ort-fp32": base, "torch-fp32": base, "ort-int8-qdq": ort, "torch-int8-fx": torch}
    recs = {k: r for k, r in fakes.seed_records().items() if r.id in hits}
    return linked(replace(r, hits=_hits(hits[r.id]), correct=int(hits[r.id].sum()), accuracy=hits[r.id].sum() / 100,
                          per_class=(hits[r.id].sum() / 100,) * 10) for r in recs.values())


def test_the_top_build_is_tested_against_the_best_of_every_other_backend() -> None:
    """The executive summary says whether its pick is separable from every other backend's best (paired bootstrap
    over the same images); an inseparable one is a tie and the smaller file is recommended."""
    th = Thresholds(max_drop=5, min_accuracy=80).with_size(onnx=0, torch=0)
    tie = selection.held_out(_two_backends(gap=5), th, LABELS)["across_backends"]
    assert tie["top"] == "torch-int8-fx" and tie["verdict"] == "tie" and tie["recommended"] == "ort-int8-qdq"
    assert tie["vs"]["ort-int8-qdq"]["diff_ci"][0] < 0 <= tie["vs"]["ort-int8-qdq"]["diff_ci"][1]
    clear = selection.held_out(_two_backends(gap=150), th, LABELS)["across_backends"]
    assert clear["verdict"] == "clear" and clear["recommended"] == "torch-int8-fx"
    assert clear["vs"]["ort-int8-qdq"]["separable"] and clear["vs"]["ort-int8-qdq"]["delta"] == -1.5
    data = json.loads(json.dumps(results.payload(fakes.run_results(_two_backends(gap=5)), th, {})))
    text = report.render({**data, "selection": {**data["selection"], "across_backends": tie}})
    assert "a **tie** with `ort-int8-qdq`, so by the secondary rule (smallest file among the tied) ship " \
           "`ort-int8-qdq`" in text


def test_the_recipe_is_re_drawn_for_the_builds_the_conclusions_rest_on() -> None:
    """The recommended build, each backend's best and every build within 0.5 point of a gate; no other."""
    from ptq_helpers.analysis import recipe

    recs = fakes.seed_records()  # ort-uint8 86.37 (best overall), ort-int8 86.12, torch-int8-fx 85.92
    chosen = recipe.chosen(recs, Thresholds())
    assert chosen == {"ort-uint8-qdq": "recommended (best accuracy); best of ONNX Runtime",
                      "torch-int8-fx": "best of PyTorch"}
    near = fakes.changed(recs, "ort-int8-qdq", correct=8540, accuracy=85.40)  # 0.40 above --ptq-min-accuracy 85
    assert recipe.chosen(near, Thresholds())["ort-int8-qdq"] == "top-1 within 0.5 of --ptq-min-accuracy"
