"""A comparison of two runs (analysis.regression) as terminal lines, as Markdown (a CI job page, a merge-request
comment) and as a figure of the flipped test images per class."""
from __future__ import annotations

from pathlib import Path

from ptq_helpers.report.markdown import table
from ptq_helpers.analysis.flips import FIRST
from ptq_helpers.analysis.regression import Comparison


def text(old_name: str, new_name: str, c: Comparison, first: int = FIRST) -> list[str]:
    """The comparison as terminal lines: which runs, what changed, per model, the flips, the verdicts."""
    out = [f"{new_name} against {old_name}:"]
    for name, prov in (("OLD", c.provenance[0]), ("NEW", c.provenance[1])):
        out += [f"  {name} {line}" for line in prov] or [f"  {name}: no provenance recorded (an older file)"]
    out.append("what changed besides the models:" if c.changed else
               "what changed besides the models: nothing recorded (same thresholds, environment and setup)")
    out += [f"  {ch.kind}: {ch.text()}" for ch in c.changed]
    out.append("per model:")
    out += [f"  {r.text()}" for r in c.rows]
    flipped = [r for r in c.rows if r.flips is not None and not r.flips.identical]
    if flipped and c.classes:
        out.append(f"flipped test images (index: true class: OLD's answer→NEW's answer; first {first} of each):")
        for r in flipped:
            out += [f"  {r.key} {line}" for line in r.flips.listing(c.classes, first)]
    out += [v.line() for v in c.verdicts]
    n = len(c.regressions)
    out.append(f"{n} regression(s)" if n else "no regression")
    return out


def markdown(old_name: str, new_name: str, c: Comparison, first: int = FIRST) -> str:
    """The comparison as Markdown, for a CI job's summary page or a merge request (same figures and verdicts)."""
    regs = c.regressions
    out = [f"## resnet8-ptq: `{new_name}` against the baseline `{old_name}`", "",
           f"**{len(regs)} regression(s)**" if regs else "**No regression.**", ""]
    icons = {"REGRESSION": ":x:", "THRESHOLD": ":warning:", "ENVIRONMENT": ":information_source:",
             "NEW": ":new:"}
    out += [f"- {icons[v.kind]} {v.line()}" for v in c.verdicts] + ([""] if c.verdicts else [])
    out += ["**What changed besides the models:**", ""]
    out += [f"- {ch.kind}: {ch.text()}" for ch in c.changed] or ["- nothing recorded"]
    out += ["", "**Runs:**", ""]
    for name, prov in (("OLD", c.provenance[0]), ("NEW", c.provenance[1])):
        out += [f"- {name} {line}" for line in prov] or [f"- {name}: no provenance recorded"]
    rows = []
    for r in c.rows:
        o, n = r.old, r.new
        if n is None or o is None:
            rows.append((f"`{r.key}`", f"{o.accuracy:.2f}% → not run", "-", "-", "-", "-") if n is None else
                        (f"`{r.key}`", f"new: {n.accuracy:.2f}%", "-", f"{n.size_bytes:,} B", "-", "-"))
            continue
        drop = "-" if n.is_fp32 or o.drop is None or n.drop is None else f"{-o.drop:+.2f} → {-n.drop:+.2f}"
        fast = f"{r.speed[0]:,.0f} → {r.speed[1]:,.0f} img/s" if all(r.speed) else "-"
        rows.append((f"`{r.key}`", f"{o.accuracy:.2f}% → {n.accuracy:.2f}% ({n.accuracy - o.accuracy:+.2f})", drop,
                     f"{o.size_bytes:,} → {n.size_bytes:,} B ({r.growth:+.1f}%)", fast, r.answers))
    out += ["", *table(("Model", "Top-1 old → new", "Δ vs fp32 old → new", "Size old → new", "Batch 256 old → new",
                        "Answers"), rows)[:-1]]
    flipped = [r for r in c.rows if r.flips is not None and not r.flips.identical]
    if flipped and c.classes:
        out += ["", f"**Flipped test images** (index: true class: OLD's answer→NEW's answer; first {first}):", ""]
        for r in flipped:
            out += [f"- `{r.key}` {line}" for line in r.flips.listing(c.classes, first)]
    return "\n".join(out) + "\n"


def draw_flips(c: Comparison, dest: Path) -> Path | None:
    """A bar chart per model whose answers changed: per true class, the images that went right→wrong (down) and
    wrong→right (up). None when no model's answers changed; ImportError without matplotlib (the report extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ptq_helpers.core.fileio import atomic_path

    changed = [r for r in c.rows if r.flips is not None and not r.flips.identical]
    if not changed or not c.classes:
        return None
    fig, axes = plt.subplots(len(changed), 1, figsize=(8, 1.2 + 2.2 * len(changed)), squeeze=False)
    span = range(len(c.classes))
    for ax, r in zip(axes[:, 0], changed):
        lost = [sum(1 for f in r.flips.right_to_wrong if f.true == k) for k in span]
        won = [sum(1 for f in r.flips.wrong_to_right if f.true == k) for k in span]
        ax.bar(span, [-n for n in lost], color="#c0392b", label=f"right→wrong ({sum(lost)})")
        ax.bar(span, won, color="#2e86c1", label=f"wrong→right ({sum(won)})")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(list(span), c.classes, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("images")
        ax.set_title(f"{r.key}: flipped test images by true class (McNemar p {r.flips.mcnemar_p:.3g})", fontsize=9)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return dest
