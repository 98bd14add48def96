"""The report's sections about this run and its answers: which run it is (provenance), the comparison table with
the executed precision and each build's gates (and the gates that did not run), and the test images on which the
targets of one build, or the builds of one source, disagree."""
from __future__ import annotations

from ptq_helpers.analysis.flips import FIRST, build_disagreements, target_disagreements
from ptq_helpers.core.provenance import describe
from ptq_helpers.report.tables import executed_text
from ptq_helpers.report.sections import View, _kib, _table
from ptq_helpers.results.json_io import test_labels

NOT_RUN_RULE = ("A gate counts only when its test ran in this session: a gate whose test was deselected (`-k`, `-m`) "
                "is *not run*, never a pass or a FAIL, and the recommendation is over the gates that ran.")


def this_run(view: View) -> list[str]:
    """Which run the payload is: start time, suite version and commit, command, machine, threads, Python."""
    prov = describe((view.data.get("meta") or {}).get("provenance"))
    if not prov:
        return []
    return ["## This run", "", *(f"- {line}" for line in prov), ""]


def comparison(view: View) -> list[str]:
    """Every model: accuracy, Δ vs fp32, size, reduction, the executed precision and its gates."""
    rows = []
    for m in view.models.values():
        fp32 = m.is_fp32
        rows.append((m.framework_label + (" (fp32 baseline)" if fp32 else ""), m.dtype_label,
                     f"{m.accuracy:.2f}%", "-" if fp32 else f"{-m.drop:+.2f}", _kib(m.size_bytes),
                     "-" if fp32 else f"{m.size_reduction:.1f}%", executed_text(m), view.verdict(m).text(),
                     f"`{m.key}`"))
    for u in view.unsupported:
        rows.append((view.framework_label(u), view.dtype_label(u), "N/A", "N/A", "N/A",
                     f"Not supported ({u['reason']})", "-", "-", f"`{u['id']}`"))
    for r in view.data.get("references") or []:
        rows.append((f"MLPerf's int8 .tflite on {r['kernels']} (reference, calibrated on test images)",
                     view.dtype_label(r), f"{r['accuracy']:.2f}%", "not comparable", _kib(r["size_bytes"]),
                     "not gated", "-", "-", f"`{r['id']}`"))
    out = ["## Comparison table", "", *_table(
        ("Framework", "Data type", "Accuracy", "Δ vs fp32 (points)", "Model size", "Size reduction", "Executed",
         "Gates", "Model"), rows)]
    not_run = [f"`{m.key}`: {', '.join(v.not_run)}" for m in view.models.values() if (v := view.verdict(m)).not_run]
    if not_run:
        out += [f"**Gates not run in this session** ({len(not_run)} models): " + "; ".join(not_run) + ". "
                + NOT_RUN_RULE, ""]
    return out


def disagreements(view: View) -> list[str]:
    """The test images on which the targets of one build disagree, and those the host's builds disagree on most."""
    labels = test_labels(view.data)
    if labels is None or not any(m.predictions for m in view.models.values()):
        return []
    classes = view.classes
    out = ["## Where the answers disagree", "",
           "Image numbers are indices into the CIFAR-10 test split in the order the JSON's `images` entry states."]
    by_target = target_disagreements(view.models)
    if by_target:
        out += ["", "Targets of one build that answer differently on the same image (host vs the other targets):", ""]
        rows = []
        for mid, idx in by_target.items():
            preds = {m.target: m.predicted() for m in view.models.values() if m.id == mid and m.predictions}
            shown = "; ".join(f"#{i} {classes[labels[i]]}: " + ", ".join(f"{t} {classes[p[i]]}"
                                                                           for t, p in preds.items())
                              for i in idx[:FIRST])
            rows.append((f"`{mid}`", f"{len(idx):,}", (shown + (f" (first {FIRST})" if len(idx) > FIRST else ""))
                         if idx else "-"))
        out += _table(("Build", "Images that differ", "Image: true class: answer per target"), rows)
    disputed = build_disagreements(view.models, labels)
    if disputed:
        n = sum(1 for m in view.models.values() if m.target == "host" and not m.is_fp32 and m.predictions)
        out += ["", f"The test images the {n} quantized builds on the host disagree on most (most builds wrong "
                "first):", ""]
        out += _table(("Image", "True class", "Builds wrong", "Answers (class: builds)"),
                      [(f"#{i}", classes[true], f"{wrong} of {n}",
                        ", ".join(f"{classes[c]}: {k}" for c, k in sorted(votes.items(), key=lambda cv: -cv[1])))
                       for i, true, wrong, votes in disputed])
    return out + [""] if len(out) > 3 else []
