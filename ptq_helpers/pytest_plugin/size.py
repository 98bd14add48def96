"""The size-search build of a run: `--ptq-size-recipe FILE` gates that recipe; `--ptq-search=size` searches (or
reads the cached search) first. Either way the recipe's build joins the matrix as `litert-size-search` before
collection, so it gets every gate, summary line and report row; the search's record goes to the JSON."""
from __future__ import annotations

from typing import Any

from ptq_helpers.matrix.settings import Settings
from ptq_helpers.matrix.size_recipe import SizeRecipe, from_json
from ptq_helpers.matrix.thresholds import Thresholds


def add_size_case(settings: Settings, th: Thresholds, search: str, recipe: SizeRecipe | None) -> dict[str, Any] | None:
    """Add the recipe's case to the matrix (once per process) and return what the JSON says of it."""
    if recipe is None and search != "size":
        return None
    from ptq_helpers.backends.litert.size import add_run_case
    from ptq_helpers.store import Store
    from ptq_helpers.backends.litert import size_search

    if recipe is not None:
        record: dict[str, Any] = {"recipe": recipe.to_json(), "from": recipe.origin, "searched": False}
    else:
        found = size_search.search(Store(settings), th)
        record = {**found, "from": "the cached search (nothing rebuilt)" if found["cached"] else "this run's search",
                  "searched": not found["cached"]}
        if found["recipe"] is None:
            return record  # no candidate held the gates on half A: nothing to gate
        recipe = from_json(found["recipe"], "the size search")
    record["case"] = add_run_case(recipe, settings.matrix).id
    return record
