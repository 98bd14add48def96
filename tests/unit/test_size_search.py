"""The size search's pure parts and its recipe file (synthetic per-image results, no models): the greedy order, the
choice on half A with its confirmation on half B, and every malformed recipe as one message naming the file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.analysis import selection, size_search
from ptq_helpers.analysis.size_search import Sensitivity
from ptq_helpers.core.errors import ConfigError
from ptq_helpers.matrix import size_recipe
from ptq_helpers.matrix.size_recipe import LayerWidth, SizeRecipe
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.pytest_plugin.options import size_recipe_file

LABELS = np.repeat(np.arange(10), 1000)


def test_order_puts_the_cheapest_loss_per_byte_first() -> None:
    rows = [Sensitivity("first", "MSE", 70.0, 216), Sensitivity("big", "MSE", 92.0, 18432),
            Sensitivity("free", "MSE", 93.0, 1024), Sensitivity("mid", "MSE", 91.0, 4608)]
    assert [r.layer for r in size_search.order(92.5, rows)] == ["free", "big", "mid", "first"]


def _hits(correct: int, seed: int) -> np.ndarray:
    hits = np.zeros(10_000, bool)
    hits[np.random.default_rng(seed).choice(10_000, correct, replace=False)] = True
    return hits


def test_choose_takes_the_smallest_candidate_holding_the_gates_on_half_a_and_confirms_it_on_half_b() -> None:
    fp32 = _hits(8719, 0)
    cands = [{"name": "w8", "bytes": 98_000, "hits": fp32.copy()},
             {"name": "w4x3", "bytes": 66_000, "hits": _hits(8600, 1)},
             {"name": "w4x9", "bytes": 60_000, "hits": _hits(6000, 2)}]
    picked = size_search.choose(cands, fp32, LABELS, selection.half_a(LABELS), Thresholds())
    assert picked["chosen"]["name"] == "w4x3" and picked["chosen"]["confirmed"]
    smallest = next(c for c in picked["candidates"] if c["name"] == "w4x9")
    assert any("--ptq-min-accuracy" in f for f in smallest["fails_a"]) and "hits" not in smallest


def test_choose_says_when_nothing_holds_and_when_half_b_does_not_confirm() -> None:
    fp32 = _hits(8719, 0)
    none = size_search.choose([{"name": "w4x9", "bytes": 1, "hits": _hits(5000, 2)}], fp32, LABELS,
                              selection.half_a(LABELS), Thresholds())
    assert none["chosen"] is None
    half_a = selection.half_a(LABELS)
    split = fp32 & half_a  # right on half A as often as fp32, never right on half B
    picked = size_search.choose([{"name": "odd", "bytes": 1, "hits": split}], fp32, LABELS, half_a, Thresholds())
    assert picked["chosen"]["name"] == "odd" and not picked["chosen"]["confirmed"] and picked["chosen"]["fails_b"]


def test_a_recipe_round_trips_through_a_file_and_through_a_results_json(tmp_path: Path) -> None:
    recipe = SizeRecipe((LayerWidth("conv2d_7_1", 4, "MSE"), LayerWidth("conv2d_4_1", 4)))
    (tmp_path / "r.json").write_text(json.dumps(recipe.to_json()))
    (tmp_path / "results.json").write_text(json.dumps({"size_search": {"recipe": recipe.to_json()}}))
    for name in ("r.json", "results.json"):
        assert size_recipe.load(tmp_path / name).layers == recipe.layers
    assert recipe.slug == "w4x2"


@pytest.mark.parametrize("content, says", [
    ("{", "is not JSON"),
    ("[]", "not a size recipe"),
    (json.dumps({"size_search": {"recipe": None}}), "has no size-search recipe"),
    (json.dumps({"kind": size_recipe.KIND, "version": 9, "layers": []}), "recipe version 9"),
    (json.dumps({"kind": size_recipe.KIND, "version": 1, "layers": {}}), "must be a list"),
    (json.dumps({"kind": size_recipe.KIND, "version": 1, "layers": [{"layer": "x; rm"}]}), "is not a layer name"),
    (json.dumps({"kind": size_recipe.KIND, "version": 1, "layers": [{"layer": "c", "weight_bits": 3}]}),
     "weight_bits 3"),
    (json.dumps({"kind": size_recipe.KIND, "version": 1, "layers": [{"layer": "c", "algorithm": "AdaRound"}]}),
     "AdaRound"),
    (json.dumps({"kind": size_recipe.KIND, "version": 1, "layers": [{"layer": "c"}, {"layer": "c"}]}), "twice"),
    (json.dumps({"kind": size_recipe.KIND, "version": 1, "layers": [{"layer": "c", "bits": 4}]}), "must be an object"),
])
def test_a_malformed_recipe_is_one_message_naming_the_file_and_the_fix(tmp_path: Path, content: str, says: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(ConfigError) as err:
        size_recipe.load(bad)
    assert str(err.value).startswith(f"--ptq-size-recipe {bad}: ") and says in str(err.value)
    assert "written by --ptq-search=size" in str(err.value)


def test_the_option_parser_turns_a_bad_recipe_into_a_usage_error(tmp_path: Path) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="cannot be read"):
        size_recipe_file(str(tmp_path / "missing.json"))


def test_the_report_shows_the_recipe_the_candidates_and_whether_half_b_confirmed() -> None:
    from ptq_helpers.report import document
    from tests import fakes

    data = fakes.payload()
    assert "size search" not in document.render(data)
    fp32 = _hits(8719, 0)
    cands = [{"name": "w8", "bytes": 98_344, "hits": fp32.copy(), "top1": 87.19},
             {"name": "w4x3", "bytes": 66_088, "hits": _hits(8600, 1), "top1": 86.0,
              "recipe": SizeRecipe((LayerWidth("conv2d_7_1", 4, "MSE"),)).to_json()}]
    picked = size_search.choose(cands, fp32, LABELS, selection.half_a(LABELS), Thresholds())
    data["size_search"] = {"recipe": picked["chosen"]["recipe"], "from": "this run's search", "searched": True,
                           "case": "litert-size-search", "candidates": picked["candidates"], "chosen": picked["chosen"],
                           "base": {"bytes": 98_344, "validation_top1": 92.48}, "wall_s": 1.0,
                           "sensitivity": [{"layer": "conv2d_7_1", "algorithm": "MSE", "accuracy": 92.62,
                                            "saved_bytes": 18_432}],
                           "how": {"sensitivity": "v", "choice": "a", "confirmation": "b", "algorithms": ["MSE"]}}
    text = document.render(data)
    assert "## Smallest build that passes (size search)" in text
    assert "conv2d_7_1 4-bit (MSE)" in text and "`litert-size-search`, gated" in text
    assert "| w4x3 | 66,088 |" in text and "confirmed." in text


def test_gptq_stays_on_the_quantizers_grid_and_beats_round_to_nearest_on_correlated_inputs() -> None:
    from ptq_helpers.backends.litert import gptq

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 24)) @ rng.normal(size=(24, 24))  # correlated inputs: where GPTQ's updates help
    w = rng.normal(size=(8, 24))
    h = x.T @ x / len(x)
    q = gptq.quantize(w, h)
    scale = np.abs(w).max(1, keepdims=True) / gptq.QMAX
    steps = q / scale
    assert np.allclose(steps, np.round(steps), atol=1e-4) and np.abs(steps).max() <= gptq.QMAX + 1e-4
    assert np.allclose(np.abs(q).max(1), np.abs(w).max(1), rtol=1e-5)  # min-max finds the same scale again
    rtn = np.clip(np.round(w / scale), -7, 7) * scale

    def err(m: np.ndarray) -> float:
        return float(np.einsum("ok,kl,ol->", w - m, h, w - m))
    assert err(q) < err(rtn)


def test_a_recipe_equal_to_a_catalog_row_of_the_run_is_that_row_not_a_second_name() -> None:
    from ptq_helpers.backends.litert import W4_GPTQ
    from ptq_helpers.backends.litert.size import run_case

    shuffled = SizeRecipe(tuple(reversed(W4_GPTQ.layers)), origin="test")
    assert run_case(shuffled, "mcu").id == "litert-w4a8-gptq"
