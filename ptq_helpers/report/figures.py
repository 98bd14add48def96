"""The report's figures (matplotlib, optional extra `report`): accuracy vs size, per-class Δ heatmap, and (with
micro-controller budgets) accuracy vs flash and SRAM (report.mcu)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ptq_helpers.analysis import gates
from ptq_helpers.core.fileio import atomic_path
from ptq_helpers.report import mcu
from ptq_helpers.results.record import ModelRecord

MISSING = "Figures were skipped: matplotlib is not installed (pip install -e '.[report]')."


# (dx, dy, horizontal alignment) in points from the marker, tried in order for each label
_SPOTS = [(6, 4, "left"), (6, -11, "left"), (-6, 4, "right"), (-6, -11, "right"), (6, 15, "left"),
          (6, -22, "left"), (-6, 15, "right"), (-6, -22, "right"), (0, 26, "center"), (0, -33, "center"),
          *((dx, dy, "left" if dx > 0 else "right") for r in range(1, 7) for dx in (18 * r, -18 * r)
            for dy in (-12 * r - 20, 12 * r + 14))]


def pareto(records: list[ModelRecord]) -> list[ModelRecord]:
    """The quantized builds no other build beats on both size and top-1 (at least as good on both, better on one)."""
    return [m for m in records if not m.is_fp32 and not any(
        o is not m and o.size_bytes <= m.size_bytes and o.accuracy >= m.accuracy
        and (o.size_bytes < m.size_bytes or o.accuracy > m.accuracy) for o in records)]


def place_labels(fig: Any, ax: Any, points: list[tuple[str, float, float]]) -> list[Any]:
    """Annotate each (text, x, y), each at the first spot around its marker where it overlaps no label placed
    before and stays inside the axes (a leader line when it is away from the marker); the texts."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed, texts = [], []
    for text, x, y in sorted(points, key=lambda p: (-p[2], p[1])):
        for i, (dx, dy, ha) in enumerate(_SPOTS):
            far = abs(dx) > 10 or abs(dy) > 20
            t = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=8, ha=ha,
                            arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6} if far else None)
            box = t.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if (inside and not any(box.overlaps(o) for o in placed)) or i == len(_SPOTS) - 1:
                placed.append(box)
                texts.append(t)
                break
            t.remove()
    return texts


def draw(data: Mapping[str, Any], folder: Path, stem: str) -> tuple[dict[str, Path], str]:
    """Write the PNGs into folder; return {'size': path, 'per_class': path} and a note ('' when drawn)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}, MISSING
    from ptq_helpers.matrix.thresholds import Thresholds
    from ptq_helpers.core.classes import CLASSES
    from ptq_helpers.results.record import load_all

    records = load_all(data["models"])
    models = list(records.values())
    if not models:
        return {}, "Figures were skipped: no model results."
    made = {"size": folder / f"{stem}-accuracy-vs-size.png", "per_class": folder / f"{stem}-per-class-delta.png"}
    meta = {"Software": None}  # keep the files free of version stamps

    fig, ax = plt.subplots(figsize=(8, 5))
    host = [m for m in models if m.target == "host"] or models
    th = Thresholds.from_json(data["thresholds"])
    failing = {m.key for m in host if gates.verdict(m, th, data.get("gates_run")).failed}
    front = {m.key for m in pareto(host)}
    for marker, fw in zip("osD^vP*", dict.fromkeys(m.framework for m in host)):
        mine = [m for m in host if m.framework == fw]
        ax.scatter([m.size_bytes / 1024 for m in mine], [m.accuracy for m in mine], marker=marker, s=50, alpha=0.8,
                   label=mine[0].framework_label)
    for keys, style, label in ((front, {"s": 190, "facecolors": "none", "edgecolors": "black", "linewidths": 1.2},
                                "Pareto front (no build smaller and more accurate)"),
                               (failing, {"s": 120, "marker": "x", "color": "red", "linewidths": 2},
                                "fails a gate")):
        marked = [m for m in host if m.key in keys]
        if marked:
            ax.scatter([m.size_bytes / 1024 for m in marked], [m.accuracy for m in marked], label=label, **style)
    # With many models every label would overlap: name only the Pareto front, the failing builds and the fp32
    # baselines; the report's tables list every model. Labels are placed where they overlap no other label.
    named = host if len(host) <= 12 else [m for m in host if m.is_fp32 or m.key in front or m.key in failing]
    min_accuracy = th.min_accuracy
    ax.axhline(min_accuracy, color="grey", linestyle="--", linewidth=1, label=f"accuracy gate {min_accuracy:g}%")
    ax.set_xlabel("serialized model size (KiB)")
    ax.set_ylabel("top-1 accuracy on 10,000 test images (%)")
    ax.set_title("Accuracy vs model size, this CPU" + ("" if len(named) == len(host) else
                                                       " (labels: fp32, Pareto front, failing)"))
    ax.legend(loc="lower right", fontsize=8)
    ax.margins(x=0.12, y=0.12)  # room for the labels of the outermost builds
    fig.tight_layout()
    place_labels(fig, ax, [(m.key, m.size_bytes / 1024, m.accuracy) for m in named])
    with atomic_path(made["size"]) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=meta)
    plt.close(fig)
    made.update(mcu.draw(data, folder, stem, plt))  # accuracy vs flash and SRAM, when the run has MCU budgets

    quantized = [m for m in models if m.compared]
    if not quantized:
        return {k: v for k, v in made.items() if k != "per_class"}, ""
    deltas = [[0.0 - d for d in m.class_drops] for m in quantized]  # 0.0 - d: no '-0.0' labels
    limit = max(1.0, max(abs(v) for row in deltas for v in row))
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.5 * len(quantized)))
    image = ax.imshow(deltas, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    classes = list(data.get("classes") or CLASSES)
    ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right")
    ax.set_yticks(range(len(quantized)), [m.key for m in quantized])
    for r, row in enumerate(deltas):
        for c, v in enumerate(row):
            ax.text(c, r, f"{v:+.1f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(v) > 0.6 * limit else "black")
    fig.colorbar(image, ax=ax, label="Δ accuracy vs fp32 (points)")
    ax.set_title("Per-class accuracy change vs the same framework's fp32")
    fig.tight_layout()
    with atomic_path(made["per_class"]) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=meta)
    plt.close(fig)
    return made, ""
