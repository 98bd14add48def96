"""The report's figures (matplotlib, optional extra `report`): accuracy vs size, per-class Δ heatmap, and (with
micro-controller budgets) accuracy vs flash and SRAM (report.mcu)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ptq_helpers.core.fileio import atomic_path
from ptq_helpers.report import mcu

MISSING = "Figures were skipped: matplotlib is not installed (pip install -e '.[report]')."


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
    for marker, fw in zip("osD^vP*", dict.fromkeys(m.framework for m in host)):
        mine = [m for m in host if m.framework == fw]
        ax.scatter([m.size_bytes / 1024 for m in mine], [m.accuracy for m in mine], marker=marker, s=50, alpha=0.8,
                   label=mine[0].framework_label)
    # With many models every label would overlap: name only the Pareto front (no other build is both smaller
    # and more accurate) and the fp32 baselines; the report's tables list every model.
    named = host if len(host) <= 12 else [m for m in host if m.is_fp32 or not any(
        o.size_bytes <= m.size_bytes and o.accuracy > m.accuracy for o in host)]
    placed: list[tuple[float, float, float]] = []  # (x, y, vertical offset) of labels so far
    for m in sorted(named, key=lambda m: (-m.accuracy, m.size_bytes)):
        x, y = m.size_bytes / 1024, m.accuracy
        dy = 4.0
        for px, py, pdy in placed:  # a label near an earlier one goes below it instead of on top of it
            if abs(px - x) < 25 and abs(py - y) < 0.08:
                dy = min(dy, pdy - 10)
        placed.append((x, y, dy))
        ax.annotate(m.key, (x, y), textcoords="offset points", xytext=(6, dy), fontsize=8)
    min_accuracy = Thresholds.from_json(data["thresholds"]).min_accuracy
    ax.axhline(min_accuracy, color="grey", linestyle="--", linewidth=1, label=f"accuracy gate {min_accuracy:g}%")
    ax.set_xlabel("serialized model size (KiB)")
    ax.set_ylabel("top-1 accuracy on 10,000 test images (%)")
    ax.set_title("Accuracy vs model size, this CPU" + ("" if len(named) == len(host) else
                                                       " (labels: fp32 and the size/accuracy Pareto front)"))
    ax.legend(loc="lower right")
    fig.tight_layout()
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
