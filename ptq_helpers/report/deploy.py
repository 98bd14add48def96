"""Report sections on where builds run: deployment targets (the same file on other kernels) and the
micro-controller budgets (Ethos-U estimates from Vela, TFLM's arena)."""
from __future__ import annotations

from ptq_helpers.core.isa import summary
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.report.sections import View, _table
from ptq_helpers.report.tables import target_headers, target_rows
from ptq_helpers.results.record import targets_in


def targets(view: View) -> list[str]:
    """What each deployment target is, and every model's accuracy and gates on each."""
    present = targets_in(view.models)
    seen = (view.data.get("meta") or {}).get("targets") or {}
    if len(present) < 2 and len(seen) < 2:
        return []
    rows = [(name.split(" via ")[0], f.get("how", "?") + (" (emulated: speed not measured)" if f.get("mode") == "qemu"
                                                          else ""), summary(f.get("cpu") or {}))
            for name, f in seen.items()]
    out = ["## Deployment targets", "", *_how_gated(view),
           "What each target was, as its evaluation process saw it (CPUID, read inside the process, emulated or "
           "not):", "", *_table(("Target", "How it was reached", "CPU and int8-relevant instruction sets"), rows)]
    described = {m.target: m.target_description for m in view.models.values() if m.target_description}
    if described:
        out += ["What each target stands for:", "", *(f"- `{t}`: {d}" for t, d in described.items()), ""]
    body = target_rows(view.models, view.th, present)
    if body:
        out += _table(target_headers(present), body)
        robust = [r[0] for r in body if r[-1] == "yes"]
        out += [f"Identical top-1 on every target (robust to the kernels): "
                f"{', '.join(f'`{m}`' for m in robust) or 'none'}.", ""]
    out += per_cpu(view)
    differ = [m for m in view.models.values() if m.vs_host is not None and m.vs_host.differing]
    if differ:
        out += ["Where a target's top-1 differs from the host's, by true class:", "",
                *_table(("Build", "Images that differ", *view.classes),
                        [(f"`{m.key}`", str(m.vs_host.differing), *map(str, m.vs_host.differing_by_class))
                         for m in differ])]
    return out


def _how_gated(view: View) -> list[str]:
    """How the records of each target were measured and against which fp32, from the records themselves."""
    quantized = [m for m in view.models.values() if not m.is_fp32 and m.target != "host"]
    own = sorted({m.target for m in quantized if not m.baseline_target or m.baseline_target == m.target})
    on_host = sorted({m.target for m in quantized if m.baseline_target == "host"})
    text = f"Every quantized build is evaluated on each target on all {view.images or 0:,} test images."
    if own:
        text += (f" On {', '.join(f'`{t}`' for t in own)} it is gated against the fp32 model of its framework "
                 "measured on the same target, on the same images.")
    if on_host:
        text += (f" On {', '.join(f'`{t}`' for t in on_host)} the fp32 model runs only as a probe (a stratified "
                 "subset that must agree with the host's fp32 within float rounding, else the evaluation fails as an "
                 "emulator or runtime fault); the host's fp32 predictions then stand for the full set and the drop "
                 "is gated against them (each record's `baseline_target`).")
    return [text, ""]


def per_cpu(view: View) -> list[str]:
    """Per-CPU verdicts: for each build measured on more than one target, on which CPUs it passes every gate; a build
    that fails on any target of the run is never recommended (gates.passing), and this says where it holds."""
    by_id: dict[str, list] = {}
    for m in view.models.values():
        if not m.is_fp32:
            by_id.setdefault(m.id, []).append(m)
    lines = []
    for mid, recs in by_id.items():
        if len(recs) < 2:
            continue
        holds = [r for r in recs if not view.failures(r)]
        fails = [r for r in recs if view.failures(r)]
        where = lambda rs: ", ".join(f"{r.target} ({r.cpu})" if r.cpu else r.target for r in rs)  # noqa: E731
        if fails:
            lines.append(f"- `{mid}`: holds on {where(holds) or 'no target'}; **fails** on {where(fails)}: "
                         + "; ".join(msg for r in fails for msg in view.failures(r).values()))
        else:
            lines.append(f"- `{mid}`: holds on every target of the run: {where(holds)}")
    if not lines:
        return []
    return ["Per-CPU verdicts (the recommendation names only builds that hold on every target of the run):", "",
            *lines, ""]


def mcu(view: View) -> list[str]:
    """Ethos-U55 estimates and TFLM arena per int8 .tflite, against the budgets."""
    found = view.data.get("mcu") or {}
    if not found:
        return []
    th = view.th
    rows = []
    for data in found.values():
        b = McuBudget.from_json({k: v for k, v in data.items() if k != "gates"})
        rows.append((f"`{b.id}`", f"{b.inference_time_ms:.3f} ms", f"{b.cycles_npu:,}",
                     f"{b.sram_bytes / 1024:.1f} KiB",
                     f"{b.flash_bytes / 1024:.1f} KiB", str(len(b.cpu_fallback_ops)), f"{b.arena_bytes:,} B",
                     "integer" if not b.non_integer_ops else "float: " + ", ".join(b.non_integer_ops),
                     "Pass" if not data["gates"] else "**Fail**: " + "; ".join(data["gates"].values())))
    return ["## Micro-controller budgets", "",
            f"Vela's estimate for the {next(iter(found.values()))['accelerator']} (default system config) and the "
            f"tensor arena TFLite Micro's allocator needs, per int8 .tflite. Budgets: SRAM ≤ {th.max_sram_kib:g} KiB, "
            f"flash ≤ {th.max_flash_kib:g} KiB, ≤ {th.max_npu_fallback_ops} operators on the CPU, arena ≤ "
            f"{th.max_arena_kib:g} KiB.", "",
            *_table(("Model", "Inference (est.)", "NPU cycles", "SRAM", "Flash", "CPU ops", "TFLM arena", "Tensors",
                     "Budgets"), rows)]



def selection(view: View) -> list[str]:
    """Best per backend chosen on one half of the test set and reported on the other (JSON `selection`)."""
    sel = view.data.get("selection") or {}
    if not sel.get("backends"):
        return []
    out = ["## Best per backend, chosen on held-out images", "",
           f"The test set is split into two fixed halves A and B, {sel['split'].split(' (')[0]} (seed {sel['seed']}). "
           "Per backend, the most accurate build that passes every gate is chosen on one half and its top-1, drop and "
           "paired 95% interval are reported on the other, both ways (Δ vs fp32 in points, negative when the build is "
           "worse, as in every table); the win probability is the share of 1,000 "
           "paired bootstrap resamples of all 10,000 images in which the build is the most accurate. When the "
           "runner-up cannot be separated from the top (the paired 95% interval of their difference contains 0) "
           "the verdict is **tie** and the recommendation is the smallest file among the tied builds.", ""]
    rows = []
    for fw, b in sel["backends"].items():
        a_to_b, b_to_a = b["cross_fitted"]
        half = lambda c: (f"`{c['model']}`: {c['top1']:.2f}% on {c['reported_on']}, Δ vs fp32 "  # noqa: E731
                          f"{-c['drop']:+.2f} [{c['diff_ci'][0]:+.2f}, {c['diff_ci'][1]:+.2f}] points")
        wins = ", ".join(f"`{k}` {p:.0%}" for k, p in list(b["win_probability"].items())[:3])
        verdict = (f"tie among {len(b['tied'])}: ship `{b['recommended']}` (smallest)" if b["verdict"] == "tie"
                   else f"clear: `{b['recommended']}`")
        rows.append((view.framework_label({"framework": fw}), half(a_to_b), half(b_to_a),
                     f"{-b['cross_fitted_drop']:+.2f}",
                     wins, verdict))
    out += _table(("Backend", "Chosen on A, reported on B", "Chosen on B, reported on A",
                   "Cross-fitted Δ vs fp32 (points)",
                   "Win probability (top 3)", "Verdict"), rows)
    return out
