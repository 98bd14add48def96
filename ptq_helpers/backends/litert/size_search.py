"""`--ptq-search=size`: the smallest litert-quantizer build whose accuracy gates hold, found by per-layer sensitivity
and a greedy choice of 4-bit layers, chosen on half A of the test set and confirmed on half B.

1. Sensitivity: each CONV_2D layer alone at 4-bit weights (the rest W8A8 per channel), once per algorithm of
   `ALGORITHMS`, scored on the 5,000 training-split validation images (`calibration.validation_indices`, disjoint
   from the calibration draw): no test image steers the order.
2. Greedy: layers in order of validation top-1 lost per KiB saved (ptq_helpers.analysis.size_search.order), each
   with its best algorithm; candidate k puts the first k layers at 4 bits (nested, smaller and smaller).
3. Choice: the smallest candidate holding every accuracy gate on test half A (LiteRT's host runner), confirmed on
   half B. The chosen recipe becomes the case `litert-size-search`, gated like any build on every target of the
   run (on `mcu`: TFLite Micro over all 10,000 images).

The whole search is one cached artifact keyed by the fp32 .tflite, the calibration, validation and test images, the
thresholds it gates with, the library versions and this code: a second run reads it and builds nothing.
"""
from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any


from ptq_helpers.core.errors import ConfigError
from ptq_helpers.analysis import selection, size_search
from ptq_helpers.backends import evaluate
from ptq_helpers.backends.wing import RunStore
from ptq_helpers.backends.litert import size as litert_size
from ptq_helpers.core.artifacts import cache_key, get_or_build, source_sha256
from ptq_helpers.core.progress import say
from ptq_helpers.data import calibration
from ptq_helpers.matrix import cases
from ptq_helpers.backends.litert.size import CASE_ID, case_of
from ptq_helpers.matrix.cases import Case
from ptq_helpers.matrix.size_recipe import LayerWidth, SizeRecipe, from_json
from ptq_helpers.matrix.thresholds import Thresholds

# GPTQ only: on every conv of this model it leaves 4-60% of round-to-nearest's output error (docs/mcu-size.md), and
# each algorithm tried costs one build per layer
ALGORITHMS = ("GPTQ",)
FP32_ID = "litert-fp32"


def _key(store: RunStore, th: Thresholds) -> str:
    code = source_sha256(*(importlib.import_module(m) for m in (
        __name__, "ptq_helpers.analysis.size_search", "ptq_helpers.backends.litert.size",
        "ptq_helpers.backends.litert.quantizer", "ptq_helpers.backends.litert.gptq", "ptq_helpers.matrix.size_recipe")))
    return cache_key({"fp32": store.artifact(cases.get(FP32_ID)).sha256, "calibration": store.calibration_sha256,
                      "validation": calibration.indices_sha256(store.validation_draw(0)), "test": store.test.sha256,
                      "gates": [th.min_accuracy, th.max_drop, th.max_class_drop], "versions": store.versions,
                      "algorithms": ALGORITHMS, "code": code, "contract": store.settings.contract.key()})


def search(store: RunStore, th: Thresholds) -> dict[str, Any]:
    """The search's record (JSON-able); built once per key, read back afterwards."""
    folder = store.settings.cache / "size-search" / _key(store, th)[:16]
    done = get_or_build(folder, "search.json", lambda tmp: tmp.write_text(json.dumps(_run(store, th))),
                        run_id=store.settings.run_id, rebuild=store.settings.rebuild)
    found = json.loads(done.path.read_text())
    found["cached"] = not done.built
    return found


def _run(store: RunStore, th: Thresholds) -> dict[str, Any]:
    started, threads = time.perf_counter(), store.settings.threads
    fp32_path = store.artifact(cases.get(FP32_ID)).path
    layers = litert_size.conv_layers(fp32_path)
    held_out = store.validation_draw(0)
    val_x, val_y = store.train.images(held_out), store.train.labels[held_out]

    def built(recipe: SizeRecipe, name: str) -> tuple[Case, Path, int]:
        case = case_of(recipe, f"{CASE_ID}-{name}")
        stored = store.artifact(case)
        return case, stored.path, stored.size

    def val_top1(case: Case, path: Path) -> float:
        return round(100 * float((evaluate.predict(case, path, val_x, threads).argmax(1) == val_y).mean()), 2)

    base_case, base_path, base_bytes = built(SizeRecipe(), "w8")
    base_val = val_top1(base_case, base_path)
    rows = []
    for layer in layers:
        trials = []
        for algo in ALGORITHMS:
            case, path, size = built(SizeRecipe((LayerWidth(layer, 4, algo),)), f"{layer}-{algo.lower()[:6]}")
            trials.append(size_search.Sensitivity(layer, algo, val_top1(case, path), base_bytes - size))
        rows.append(max(trials, key=lambda s: s.accuracy))
        say(f"size search: {layer} at 4 bits: {rows[-1].accuracy:.2f}% ({rows[-1].algorithm}) on validation")
    ordered = size_search.order(base_val, rows)
    labels = store.test.labels
    test_x = store.test.images()  # every image through the model's input contract (ModelSplit)
    fp32_hits = evaluate.predict(cases.get(FP32_ID), fp32_path, test_x, threads).argmax(1) == labels
    candidates = []
    for k in range(len(ordered) + 1):
        recipe = SizeRecipe(tuple(LayerWidth(s.layer, 4, s.algorithm) for s in ordered[:k]))
        case, path, size = built(recipe, recipe.slug if k else "w8")
        hits = evaluate.predict(case, path, test_x, threads).argmax(1) == labels
        candidates.append({"name": recipe.slug, "layers": k, "bytes": size, "recipe": recipe.to_json(),
                           "top1": round(100 * float(hits.mean()), 2), "hits": hits})
        say(f"size search: {recipe.slug}: {size:,} bytes, top-1 {candidates[-1]['top1']:.2f}% (LiteRT, 10,000)")
    picked = size_search.choose(candidates, fp32_hits, labels, selection.half_a(labels), th)
    chosen = picked["chosen"]
    return {"recipe": chosen["recipe"] if chosen else None, "chosen": chosen, "candidates": picked["candidates"],
            "base": {"bytes": base_bytes, "validation_top1": base_val},
            "sensitivity": [asdict(s) for s in rows], "order": [s.layer for s in ordered],
            "how": {"sensitivity": f"{len(val_y):,} training-split validation images (disjoint from the calibration "
                                   "draw), LiteRT host runner", "choice": "test half A (selection.half_a), LiteRT",
                    "confirmation": "test half B, LiteRT; then the chosen build is gated on every target of the run",
                    "algorithms": list(ALGORITHMS), "gates": [th.min_accuracy, th.max_drop, th.max_class_drop]},
            "wall_s": round(time.perf_counter() - started, 1)}


def run_step(store: RunStore, th: Thresholds, run: dict[str, Any]) -> tuple[dict[str, Any] | None, tuple[Case, ...]]:
    """The size-search build of a run: `--ptq-size-recipe FILE` gates that recipe; `--ptq-search=size` searches (or
    reads the cached search) first. Either way the recipe's build joins the run as `litert-size-search` before
    collection, so it gets every gate, summary line and report row; returns what the JSON says of it, and the case."""
    asked, recipe = run["search"], run["size_recipe"]
    if recipe is None and asked != "size":
        return None, ()
    _refuse_without_layers(store)
    if recipe is not None:
        record: dict[str, Any] = {"recipe": recipe.to_json(), "from": recipe.origin, "searched": False}
    else:
        found = search(store, th)
        record = {**found, "from": "the cached search (nothing rebuilt)" if found["cached"] else "this run's search",
                  "searched": not found["cached"]}
        if found["recipe"] is None:
            return record, ()  # no candidate held the gates on half A: nothing to gate
        recipe = from_json(found["recipe"], "the size search")
    case = litert_size.run_case(recipe, store.settings.matrix)
    record["case"] = case.id
    return record, () if case.id in cases.BY_ID else (case,)


def _refuse_without_layers(store: RunStore) -> None:
    """One usage error when the float .tflite has no conv layer a recipe can name (the LiteRT builds of a PyTorch
    program, made by litert-torch, carry no Keras layer names): a search would otherwise return the 8-bit build."""
    fp32 = store.artifact(cases.get(FP32_ID)).path
    if not litert_size.conv_layers(fp32):
        model = store.settings.assets.model
        raise ConfigError(
            f"the size search and its recipes address conv layers by their Keras names, and the float .tflite of "
            f"{f'--ptq-model {model}' if model else 'the model'} (litert-torch's conversion of a PyTorch program) has "
            f"none, so no layer could be put at 4 bits; run it on the Keras model (.h5, or the reference model), or "
            f"leave --ptq-search off")
