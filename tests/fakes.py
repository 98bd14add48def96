"""What the tests share, in one module (no test module imports another): hand-made result records and results
files, small synthetic inputs (an ONNX model, a CIFAR-10 batch, an artifact builder, an MCU budget), the
pytester test file that fills a run's results, and the gates' assertion helper. No models, no real data."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.matrix.thresholds import Thresholds
from ptq_helpers.report import payload as results
from ptq_helpers.results.mcu_budget import McuBudget
from ptq_helpers.results.record import ModelRecord, linked
from ptq_helpers.results.run_results import RunResults


# --- the gates' assertion helper ----------------------------------------------------------------------------------
def passes(message: str | None) -> None:
    """Fail the test with the gate's message (model, measured value, limit) when it did not pass."""
    __tracebackhide__ = True
    if message is not None:
        pytest.fail(message, pytrace=False)


# --- result records and results files -----------------------------------------------------------------------------
def record(case_id: str, correct: int, size: int, per_class: list[float] | None = None) -> ModelRecord:
    """A record for the matrix case `case_id` (not yet linked to its baseline)."""
    case = cases.get(case_id)
    return ModelRecord(id=case.id, framework=case.framework, dtype=case.dtype, format=case.fmt,
                       baseline_id=case.baseline_id, correct=correct, total=10_000, accuracy=correct / 100,
                       per_class=tuple(per_class if per_class is not None else [correct / 100] * 10),
                       size_bytes=size, sha256=case_id.ljust(64, "0"), predictions_sha256=case_id.ljust(64, "1"),
                       quant=case.spec()["quant"], framework_label=case.backend.label,
                       dtype_label=cases.DTYPE_LABELS[case.dtype], format_label=cases.FORMATS[case.fmt].label,
                       size_kind=case.backend.size_kind.name, framework_tools=case.backend.tools)


def changed(records: Mapping[str, ModelRecord], case_id: str, **fields: Any) -> dict[str, ModelRecord]:
    """The records with one of them altered, relinked so derived facts follow."""
    return linked(replace(r, **fields) if r.id == case_id else r for r in records.values())


def seed_records() -> dict[str, ModelRecord]:
    """Records with this project's seed-model shape: two fp32 baselines, three quantized models."""
    base = [88.0, 95.0, 84.0, 73.0, 87.0, 74.0, 95.0, 90.0, 92.0, 93.0]
    return linked((
        record("ort-fp32", 8719, 321_574, base),
        record("torch-fp32", 8719, 413_000, base),
        record("ort-int8-qdq", 8612, 125_431, [87.0, 95.0, 84.0, 73.0, 87.0, 69.0, 95.0, 90.0, 92.0, 93.0]),
        record("ort-uint8-qdq", 8637, 125_221, [89.0, 95.0, 83.0, 72.0, 86.0, 71.0, 94.0, 91.0, 93.0, 92.0]),
        record("torch-int8-fx", 8592, 172_000, [87.0, 95.0, 81.0, 69.0, 86.0, 73.0, 95.0, 88.0, 93.0, 93.0]),
    ))


def run_results(records: Mapping[str, ModelRecord], bench: Mapping[str, Any] | None = None) -> RunResults:
    return RunResults(records=dict(records), bench=dict(bench or {}))


# The run facts of the report's results files (versions, CPU, threads, input hashes, calibration).
REPORT_META = {"versions": {"onnxruntime": "9.9.9"}, "cpu": "Test CPU", "threads": 3, "source_sha256": "abc123",
               "test_sha256": "t" * 64, "train_sha256": "r" * 64, "calibration_indices_sha256": "i" * 64,
               "calibration": {"seed": 7, "per_class": 50, "split": "train"}}


def payload(records: dict | None = None, th: Any = None, bench: dict | None = None) -> dict:
    """The --ptq-json results of a run with these records (default: the seed records), as read back from disk."""
    from ptq_helpers.matrix.thresholds import Thresholds
    from ptq_helpers.report import payload as results

    data = results.payload(run_results(records or seed_records(), bench), th or Thresholds(), REPORT_META)
    return json.loads(json.dumps(data))


# A test file for pytester runs of the suite: it adds two records to the run's results (no models built).
FAKE_RESULTS = """
from tests.fakes import record

def test_fp32(ptq_session):
    ptq_session.results.add(record("ort-fp32", 8719, 320000))

def test_int8(ptq_session):
    ptq_session.results.add(record("ort-int8-qdq", 8612, 125000))
"""

# The micro-controller budget of a full-integer .tflite that fits the default limits.
MCU_BUDGET = McuBudget("litert-int8", "ethos-u55-128", 0.404, 185_790, 202_043, 51_840, 79_296, 51, (), 56_528, ())


# --- small synthetic inputs ---------------------------------------------------------------------------------------
def tiny_onnx(path: Path, in_shape: list, out_shape: list, name: str = "input") -> Path:
    """A Flatten + MatMul ONNX model (zero weights) with the given input/output shapes and input name."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info(name, TensorProto.FLOAT, in_shape)
    y = helper.make_tensor_value_info("dense", TensorProto.FLOAT, out_shape)
    w = helper.make_tensor("w", TensorProto.FLOAT, [int(np.prod(in_shape[1:])), out_shape[1]],
                           np.zeros(int(np.prod(in_shape[1:])) * out_shape[1], np.float32))
    flat = helper.make_node("Flatten", [name], ["f"])
    mm = helper.make_node("MatMul", ["f", "w"], ["dense"])
    graph = helper.make_graph([flat, mm], "g", [x], [y], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    return path


def cifar_batch(path: Path, data: object, labels: object, *, str_keys: bool = False, protocol: int = 2) -> None:
    """A CIFAR-10 batch pickle with these pixels and labels (keys as bytes, as the official files have, or str).
    The official files are protocol 2 (slow to write: arrays become latin-1 text); checks of what the unpickled
    dict holds may use protocol 4."""
    key = (lambda k: k) if str_keys else (lambda k: k.encode())
    with open(path, "wb") as fh:
        pickle.dump({key("batch_label"): key("synthetic"), key("data"): data, key("labels"): labels}, fh,
                    protocol=protocol)


def slow_build(log: Path, seconds: float = 0.3) -> Callable[[Path], None]:
    """An artifact builder that notes each build in `log` and takes `seconds` (long enough for concurrent
    processes to overlap) to write b"model bytes"."""
    def build(tmp: Path) -> None:
        with open(log, "a") as fh:
            fh.write("built\n")
        time.sleep(seconds)
        tmp.write_bytes(b"model bytes")
    return build


# --- a results file of a framework no process has registered (the self-describing JSON) ---
TOY = {"framework": "toy", "format": "npy", "baseline_id": "toy-fp32", "total": 10_000, "framework_label": "Toy",
       "format_label": "NumPy array", "size_kind": "npy", "framework_tools": "Toy `round(w / scale)`",
       "target_description": "this machine's CPU, in the test process"}
PER_CLASS = (90.0, 95.0, 84.0, 73.0, 87.0, 74.0, 95.0, 90.0, 92.0, 91.0)


def toy_record(case_id: str, dtype: str, correct: int, size: int, per_class: tuple[float, ...] = PER_CLASS,
               **fields: object) -> ModelRecord:
    """A record of the toy framework, made without the registry (no case of it exists in this process)."""
    return ModelRecord(id=case_id, dtype=dtype, dtype_label={"fp32": "float32"}.get(dtype, dtype), correct=correct,
                       accuracy=correct / 100, per_class=per_class, size_bytes=size, sha256=case_id.ljust(64, "0"),
                       predictions_sha256=case_id.ljust(64, "1"), quant=None if dtype == "fp32" else {"toy_bits": 8},
                       **{**TOY, **fields})


def toy_payload(int8_size: int = 300) -> dict:
    """The --ptq-json data of a run of the toy framework only, as read back from disk."""
    records = linked((toy_record("toy-fp32", "fp32", 8719, 1_000), toy_record("toy-int8", "int8", 8650, int8_size)))
    th = Thresholds.from_json({"min_accuracy": 5.0, "max_drop": 1.0, "min_size_reduction_npy": 60.0})
    data = json.loads(json.dumps(results.payload(RunResults(records=dict(records)), th, {"cpu": "Test CPU"})))
    assert "toy" not in {u["framework"] for u in data["unsupported"]}  # the live matrix's, replaced by the toy's
    data["unsupported"] = [{"id": "toy-uint8", "framework": "toy", "dtype": "uint8", "reason": "no unsigned toys",
                            "framework_label": "Toy", "dtype_label": "uint8"}]
    return data


def cli(module: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True)


def damaged(data: dict, how: str) -> dict | str:
    if how == "schema":
        return {**data, "schema": 99}
    if how == "record":
        return {**data, "models": [{k: v for k, v in m.items() if k != "per_class"} for m in data["models"]]}
    if how == "thresholds":
        return {**data, "thresholds": 5}
    return json.dumps(data)[:200]  # truncated
