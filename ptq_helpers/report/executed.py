"""The report's executed-precision section: per quantized build, which compute layers its runtime runs as integer
kernels and which in float, as the runtime reported it, with the causes (records' `runtime.executed`)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ptq_helpers.analysis.gates import EXECUTED
from ptq_helpers.results.record import ModelRecord
from ptq_helpers.report.markdown import table as _table


def executed_line(quantized: Sequence[ModelRecord]) -> list[str]:
    """The executive summary's line: how many builds run every compute layer as an integer kernel, and which not."""
    asked = [m for m in quantized if m.executed is not None]
    if not asked:
        return []
    floats = [m for m in asked if m.executed.float]
    return [f"- **Executed precision:** {len(asked) - len(floats)} of {len(asked)} quantized builds asked run every "
            "Conv/Gemm/MatMul layer as an integer kernel on the CPU that ran them"
            + ("; runs layers in float: " + ", ".join(f"`{m.key}` ({m.executed.summary()})" for m in floats)
               + " (see [Executed precision](#executed-precision))." if floats else ".")]


def runtime_text(m: ModelRecord) -> str:
    """A record's runtime facts in one line, the executed precision as its summary."""
    return "; ".join([*(f"{k}: {v}" for k, v in (m.runtime or {}).items() if k != "executed"),
                      *([f"executed: {m.executed.summary()}"] if m.executed else [])])


def executed(view: Any) -> list[str]:  # a sections.View (sections imports this module: no import back)
    asked = [m for m in view.quantized() if m.executed is not None]
    unasked = [m for m in view.quantized() if m.executed is None]
    if not asked:
        return []
    mode = view.th.executed_precision
    out = ["## Executed precision", "",
           "Which of each quantized build's compute layers (the source model's Conv, Gemm and MatMul) its runtime runs "
           "as integer kernels on the CPU that ran it, asked of the runtime itself (not read off the file format). "
           + ("A build with float layers **fails** its gates (`" + EXECUTED + "=fail`)." if mode == "fail" else
              "A build with float layers is reported here and as an xfail of `test_quantized_layers_run_as_integer`, "
              "not failed (`" + EXECUTED + "=report`; `fail` gates it)."), ""]
    rows = []
    for m in asked:
        ex = m.executed
        ops = Counter(k.split(" (")[0] for k in ex.kernels.values())
        rows.append((f"`{m.key}`", m.dtype_label, f"**{ex.summary()}**" if ex.float else ex.summary(),
                     ", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "-",
                     ", ".join(f"`{n}`" for n in ex.float) or "-", m.cpu or "-"))
    out += _table(("Build", "Labelled", "Executed", "Runtime kernels", "Layers in float", "CPU"), rows)
    causes = [(m, c) for m in asked for c in dict.fromkeys(x.split(": ", 1)[-1] for x in m.executed.causes)]
    if causes:
        out += ["Why layers run in float:", "", *(f"- `{m.key}`: {c}" for m, c in causes), ""]
    notes = [(m, m.executed.kernel_note) for m in asked if m.executed.kernel_note]
    if notes:
        out += ["Kernels other than the runtime's default:", "", *(f"- `{m.key}`: {n}" for m, n in notes), ""]
    hows = dict.fromkeys(m.executed.how for m in asked)
    out += ["How each runtime was asked:", "", *(f"- {h}" for h in hows), ""]
    slow = [(m, v) for m in asked for k, v in (m.runtime or {}).items() if k == "re-quantized per call"]
    if slow:
        out += ["Integer but slow:", "", *(f"- `{m.key}`: {v}" for m, v in slow), ""]
    if unasked:
        out += [f"Not asked (no runtime facts on that target): {', '.join(f'`{m.key}`' for m in unasked)}.", ""]
    return out
