"""The LiteRT builds of a .pt2 source without converting anything: the builders' dispatch on the source's suffix,
the environment's key and its not-prepared message, and the converter child's failures as one line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptq_helpers.backends.litert import backend as litert, pt2 as litert_pt2, torch_setup as litert_torch_setup
from ptq_helpers.backends.litert.torch_setup import LiteRTTorchSetupError
from ptq_helpers.matrix import cases


def test_the_builders_dispatch_on_the_source_suffix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[str, str, bool]] = []
    monkeypatch.setattr(litert, "_run_converter",
                        lambda src, dest, cal, *quant: calls.append(("tflite-converter", src.name, cal is not None)))
    monkeypatch.setattr(litert_pt2, "convert",
                        lambda src, dest, cal, cache=None: calls.append(("litert-torch", src.name, cal is not None)))
    images = np.zeros((2, 3, 32, 32), np.float32)
    litert.build_fp32(tmp_path / "pretrainedResnet.h5", tmp_path / "a.tflite")
    litert.build_fp32(tmp_path / "mine.pt2", tmp_path / "b.tflite")
    litert.build_int8(cases.get("litert-int8"), tmp_path / "pretrainedResnet.h5", images, tmp_path / "c.tflite")
    litert.build_int8(cases.get("litert-int8"), tmp_path / "mine.pt2", images, tmp_path / "d.tflite")
    assert calls == [("tflite-converter", "pretrainedResnet.h5", False), ("litert-torch", "mine.pt2", False),
                     ("tflite-converter", "pretrainedResnet.h5", True), ("litert-torch", "mine.pt2", True)]


def test_the_pt2_modules_key_the_litert_builds_and_predictions() -> None:
    """litert-torch's version is a pin in litert_torch_setup's source, which is hashed into the cache keys."""
    backend = cases.get("litert-int8").backend
    for module in ("ptq_helpers.backends.litert.pt2", "ptq_helpers.backends.litert.pt2_child",
                   "ptq_helpers.backends.litert.torch_setup"):
        assert module in backend.code_modules
    assert litert_torch_setup.PINS["litert-torch"] == "0.10.0"


def test_the_environment_key_follows_the_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    before = litert_torch_setup.key()
    assert litert_torch_setup.key() == before and len(before) == 16
    assert set(litert_torch_setup.pins()) >= {"litert-torch", "torch", "torchao", "ai-edge-litert", "numpy"}
    monkeypatch.setitem(litert_torch_setup.PINS, "litert-torch", "0.9.4")
    assert litert_torch_setup.key() != before


def test_an_unprepared_environment_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(LiteRTTorchSetupError) as info:
        litert_torch_setup.environment(tmp_path, prepare=False)
    message = str(info.value)
    assert "\n" not in message and message.endswith("python -m ptq_helpers.backends.litert.torch_setup")
    assert str(tmp_path / "litert-torch") in message


def test_an_environment_is_prepared_only_with_its_manifest(tmp_path: Path) -> None:
    folder = litert_torch_setup.home(tmp_path)
    (folder / "venv" / "bin").mkdir(parents=True)  # half-prepared: no manifest
    with pytest.raises(LiteRTTorchSetupError):
        litert_torch_setup.environment(tmp_path, prepare=False)
    (folder / litert_torch_setup.MANIFEST).write_text("{}")
    assert litert_torch_setup.environment(tmp_path, prepare=False) == folder / "venv" / "bin" / "python"


@pytest.mark.parametrize(("stage", "says"), [
    ("load", "torch.export.load could not load it"),
    ("convert", "litert-torch could not convert it to .tflite"),
    ("quantize", "ai-edge-quantizer could not quantize its .tflite to int8"),
])
def test_a_failed_child_is_one_line_naming_the_file_and_the_stage(stage: str, says: str) -> None:
    stderr = ("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad\n"
              f"litert-pt2: {stage}: ValueError: bad magic number\n")
    message = litert_pt2.failure(Path("/models/mine.pt2"), 1, stderr)
    assert message.startswith(f"/models/mine.pt2: {says}: ValueError: bad magic number") and "\n" not in message


def test_a_child_that_died_without_its_line_is_still_one_line() -> None:
    message = litert_pt2.failure(Path("mine.pt2"), -9, "one\ntwo\nKilled\n")
    assert message == "mine.pt2: the litert-torch converter child exited -9: one | two | Killed"
    assert litert_pt2.failure(Path("mine.pt2"), 1, "").endswith("exited 1: no error output")


def test_a_failed_preparation_says_how_to_prepare_and_leaves_no_manifest(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    def offline(folder: Path, note) -> dict[str, object]:  # noqa: ANN001
        raise LiteRTTorchSetupError("`pip install ...` failed (1):\nERROR: No matching distribution found")

    monkeypatch.setattr(litert_torch_setup, "_build", offline)
    notes: list[str] = []
    with pytest.raises(LiteRTTorchSetupError) as info:
        litert_torch_setup.environment(tmp_path, note=notes.append)
    assert "preparing it failed (it needs PyPI once)" in str(info.value)
    assert str(info.value).endswith("prepare it with: python -m ptq_helpers.backends.litert.torch_setup")
    assert notes and notes[0].startswith("preparing the litert-torch environment in ")
    assert not (litert_torch_setup.home(tmp_path) / litert_torch_setup.MANIFEST).exists()


def test_a_pt2_source_is_unready_until_the_environment_is_prepared(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """A gate run never downloads the environment by itself: the LiteRT items are skipped naming the command."""
    monkeypatch.setattr(litert_pt2, "_cache", lambda: tmp_path)
    assert cases.get("litert-int8").backend.unready == "ptq_helpers.backends.litert.pt2:unready"
    assert litert_pt2.unready(tmp_path / "pretrainedResnet.h5") is None
    reason = litert_pt2.unready(tmp_path / "mine.pt2")
    assert reason is not None and reason.endswith("prepare it once with: python -m "
                                                  "ptq_helpers.backends.litert.torch_setup")
    folder = litert_torch_setup.home(tmp_path)
    folder.mkdir(parents=True)
    (folder / litert_torch_setup.MANIFEST).write_text("{}")
    assert litert_pt2.unready(tmp_path / "mine.pt2") is None
