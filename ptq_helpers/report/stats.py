"""The report's statistics sections: paired tests with their multiplicity adjustment, calibration-draw
spread, recipe-level uncertainty, matched-settings pairs and the per-layer diagnosis."""
from __future__ import annotations

from ptq_helpers.analysis.recipe import pick_under_recipe
from ptq_helpers.report.sections import View, _table
from ptq_helpers.report.tables import ci_text


def statistics(view: View) -> list[str]:
    adj = view.data.get("multiplicity") or {}
    holm, bh = adj.get("holm", {}), adj.get("bh_per_class", {})
    rows = []
    for m in view.quantized():
        st = m.stats
        if st:
            cells = bh.get(m.key, [])
            rows.append((f"`{m.key}`", f"{st.agreement:.2f}%", str(st.only_fp32_correct),
                         str(st.only_quantized_correct), f"{st.mcnemar_p:.3g}",
                         f"{holm[m.key]:.3g}" if m.key in holm else "-",
                         f"{-m.drop:+.2f} {ci_text(m)}",
                         ", ".join(view.classes[k] for k, p in enumerate(cells)
                                   if p < adj.get("alpha", 0.05)) or "none"))
    if not rows:
        return ["## Statistics", *recipe(view)] if view.data.get("recipe") else []
    out = ["## Statistics", "", "Each quantized model against its fp32 baseline on the same 10,000 images: top-1 "
           "agreement, the discordant pairs, McNemar's exact test and a paired bootstrap 95% interval of the accuracy "
           "difference (2,000 resamples, seed 0).", "",
           f"**Primary test** of \"differs from fp32\": {adj.get('primary_test', 'McNemar')}; the interval gives the "
           "size of the difference. **Multiplicity:** the p values are Holm-adjusted over the family of "
           f"{adj.get('family', 'comparisons of this run')} (family-wise error 5%); per-class differences are "
           f"Benjamini–Hochberg-adjusted over {adj.get('per_class_family', 'the model x class cells')} (false "
           "discovery rate 5%), and the last column lists the classes that remain significant. "
           f"{adj.get('raw_significant', 0)} comparisons have raw p < 0.05, {adj.get('holm_significant', 0)} after "
           "Holm.",
           "", *_table(("Model", "Top-1 agreement", "Only fp32 right", "Only quantized right", "McNemar p", "Holm p",
                        "Δ points [95% CI]", "Classes differing (BH 5%)"), rows)]
    if adj.get("disagree"):
        out += [f"McNemar (p < 0.05) and the bootstrap interval (excludes 0) disagree for "
                f"{', '.join(f'`{k}`' for k in adj['disagree'])}: with few discordant images the percentile interval "
                "is slightly too narrow; conclusions use McNemar.", ""]
    sweeps = [(m, view.data.get("sweep", {}).get(m.key)) for m in view.quantized()]
    sweeps = [(m, sw) for m, sw in sweeps if sw]
    if sweeps:
        out += [f"Calibration-draw sweep ({sweeps[0][1]['draws']} independent draws of the calibration images):", "",
                *_table(("Model", "Mean", "Std", "Min", "Max"),
                        [(f"`{m.key}`", f"{sw['mean']:.2f}%", f"{sw['std']:.2f}", f"{sw['min']:.2f}%",
                          f"{sw['max']:.2f}%") for m, sw in sweeps])]
    return out + recipe(view)


def recipe(view: View) -> list[str]:
    """Recipe-level uncertainty (JSON `recipe`), and the recommendation it would give when that differs."""
    recipes = view.data.get("recipe") or {}
    if not recipes:
        return []
    first = next(iter(recipes.values()))
    rows = [(f"`{key}`", f"{r['draw0']:.2f}%", f"{r['mean']:.2f}%", f"{r['sd']:.2f}", f"{r['worst']:.2f}%",
             f"{r['delta_mean']:+.2f}", f"{r['interval'][0]:.2f}–{r['interval'][1]:.2f}%",
             f"{r['delta_interval'][0]:+.2f} to {r['delta_interval'][1]:+.2f}", r.get("why", ""))
            for key, r in recipes.items()]
    out = ["", "### Recipe-level uncertainty", "",
           f"Each build below was rebuilt on {first['draws']} more calibration draws (draws 1..{first['draws']} of "
           f"the seed's stream; draw 0 is the gated build and is not counted in the spread). Interval: "
           f"{first['method']}.", "",
           *_table(("Model", "Draw 0", "Mean", "Sd", "Worst draw", "Mean Δ vs fp32", "95% interval",
                    "Δ 95% interval (points)", "Why re-drawn"), rows)]
    passing = [m.key for m in view.passing()]
    by_draw = max(view.passing(), key=lambda m: (m.accuracy, -m.size_bytes), default=None)
    by_recipe = pick_under_recipe(recipes, passing)
    if by_draw is not None and by_recipe is not None:
        if by_recipe == by_draw.key:
            out += [f"By recipe mean the pick is the same: `{by_draw.key}` ({recipes[by_recipe]['mean']:.2f}%).", ""]
        else:
            top = recipes.get(by_draw.key)
            was = f"{top['mean']:.2f}%" if top else "not re-drawn"
            out += [f"**By recipe mean the recommendation would differ:** `{by_recipe}` "
                    f"({recipes[by_recipe]['mean']:.2f}% over {recipes[by_recipe]['draws']} draws) rather than "
                    f"`{by_draw.key}` (draw 0 {by_draw.accuracy:.2f}%, recipe mean {was}).", ""]
    return out


def diagnosis(view: View) -> list[str]:
    diag = view.data.get("diagnosis") or {}
    rows = [r for r in diag.get("rows", []) if r.get("vs_fp32_sqnr_db") is not None]
    if not rows:
        return []
    rows.sort(key=lambda r: r["vs_fp32_sqnr_db"])
    shown = rows[:12]
    return ["## Per-layer diagnosis", "",
            f"The worst ONNX Runtime QDQ model of this run, `{diag['model']}` ({diag['accuracy']:.2f}%), compared "
            f"tensor by tensor with the fp32 model on {diag['images']} test images (ONNX Runtime's "
            "`qdq_loss_debug`), SQNR in dB. The first column is cumulative: the quantized model's tensor against the "
            "fp32 model's, with the noise of every layer before it, so deep tensors rank lowest because noise adds "
            "up, not because they quantize worse. The second compares a tensor before and after its own "
            "QuantizeLinear/DequantizeLinear pair; where ONNX Runtime fused a Relu into the QuantizeLinear (no Relu "
            "node left) it compares the pre-ReLU value with the post-ReLU one and measures the ReLU, not the rounding "
            "(a few dB); values above ~100 dB mean bit-exact. Lowest cumulative SQNR first:", "",
            *_table(("Activation", "Cumulative SQNR vs fp32 model (dB)", "Before vs after its Q/DQ pair (dB)"),
                    [(f"`{r['tensor']}`", f"{r['vs_fp32_sqnr_db']:.1f}", f"{r['qdq_sqnr_db']:.1f}") for r in shown]),
            f"Lowest cumulative SQNR: `{shown[0]['tensor']}` at {shown[0]['vs_fp32_sqnr_db']:.1f} dB; highest: "
            f"`{rows[-1]['tensor']}` at {rows[-1]['vs_fp32_sqnr_db']:.1f} dB ({len(rows)} activations compared).", ""]


def matched(view: View) -> list[str]:
    """Matched-settings pairs (a record whose quant names the case it `matches`): the same granularity, activation
    bit-width and calibration in two frameworks, so the difference is the framework's (kernels, graph, observers)."""
    lines = []
    for m in view.models.values():
        other = view.models.get(str((m.quant or {}).get("matches") or "")) if m.target == "host" else None
        if other is None or not m.compared or not other.compared:
            continue
        q = m.quant or {}
        recipe = f"{q.get('weights', '').replace('_', '-')} weights, {q.get('activations', '')} activations"
        lines.append(f"- `{m.key}` {m.accuracy:.2f}% ({-m.drop:+.2f}) vs `{other.key}` {other.accuracy:.2f}% "
                     f"({-other.drop:+.2f}): with the same recipe ({recipe}), {m.framework_label} is "
                     f"{m.accuracy - other.accuracy:+.2f} points from {other.framework_label}.")
    if not lines:
        return []
    return ["**Matched settings** (the framework comparison with the recipe held fixed: 8-bit MinMax activations "
            "and symmetric int8 weights in both; `minmax8` = 8-bit asymmetric activations from min/max):", "",
            *lines, ""]

