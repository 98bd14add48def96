"""The report's "Smallest build that passes" section: the size search's per-layer recipe, how it was chosen
(sensitivity, candidates on test half A, confirmation on half B) and the chosen build's gated rows, all from the
payload's `size_search` entry (absent without --ptq-search=size / --ptq-size-recipe)."""
from __future__ import annotations

from typing import Any

from ptq_helpers.report.sections import View
from ptq_helpers.report.markdown import table


def _recipe(recipe: dict[str, Any] | None) -> str:
    if not recipe or not recipe.get("layers"):
        return "every layer W8A8 per channel (no 4-bit layer)"
    return ", ".join(f"{r['layer']} {r['weight_bits']}-bit ({r['algorithm']})" for r in recipe["layers"])


def section(view: View) -> list[str]:
    found: dict[str, Any] | None = view.data.get("size_search")
    if not found:
        return []
    lines = ["## Smallest build that passes (size search)", "",
             f"Recipe ({found.get('from', '?')}): {_recipe(found.get('recipe'))}. Every other layer: litert-quantizer "
             f"W8A8 per channel, min-max. The build is `{found.get('case', '?')}`, gated like every build on each "
             "target of the run (its rows above; on `mcu` over TFLite Micro's kernels).", ""]
    how = found.get("how")
    if how:
        lines += [f"- sensitivity: {how['sensitivity']}; algorithms tried per layer: {', '.join(how['algorithms'])}",
                  f"- choice: {how['choice']}; confirmation: {how['confirmation']}",
                  f"- search wall time {found.get('wall_s', '?')} s"
                  + (" (read from the cache this run)" if not found.get("searched") else ""), ""]
    if found.get("sensitivity"):
        base = found.get("base", {})
        lines += [f"Per layer alone at 4 bits (W8A8 base: {base.get('validation_top1', '?')}% on validation, "
                  f"{base.get('bytes', 0):,} bytes):", ""]
        lines += table(("layer", "best algorithm", "validation top-1", "bytes saved"),
                       [(s["layer"], s["algorithm"], f"{s['accuracy']:.2f}%", f"{s['saved_bytes']:,}")
                        for s in found["sensitivity"]])
        lines += ["Candidates (greedy, nested; smallest first):", ""]
        lines += table(("candidate", "bytes", "top-1 (10,000, LiteRT)", "top-1 half A", "fails on half A"),
                       [(c["name"], f"{c['bytes']:,}", f"{c['top1']:.2f}%", f"{c['top1_a']:.2f}%",
                         "; ".join(c["fails_a"]) or "none") for c in found.get("candidates", [])])
        chosen = found.get("chosen")
        lines += [(f"Chosen on half A: **{chosen['name']}** ({chosen['bytes']:,} bytes); half B: "
                       f"{chosen['top1_b']:.2f}%, " + ("confirmed." if chosen["confirmed"] else
                                                      "NOT confirmed: " + "; ".join(chosen["fails_b"])))
                  if chosen else "No candidate held the accuracy gates on half A: nothing to gate.", ""]
    for record in (r for r in view.models.values() if r.id == found.get("case")):
        lines.append(f"- `{record.id}` on {record.target}: top-1 {record.accuracy:.2f}% ({record.correct:,}/"
                     f"{record.total:,}), {record.size_bytes:,} bytes")
    return lines + [""]
