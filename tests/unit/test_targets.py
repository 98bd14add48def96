"""Deployment targets, in this process: how each runtime reaches avx2, target names, shards (the emulated CPU and
the evaluation children: tests/selftest/test_targets.py; the avx2 gates themselves run through the ordinary
gate tests, `--ptq-targets=host,avx2`)."""
from __future__ import annotations

import pytest

from ptq_helpers.matrix import cases
from ptq_helpers.targets import base, children, registry
from ptq_helpers.targets.host import HOST
from ptq_helpers.targets.avx2 import AVX2


def test_each_runtime_reaches_avx2_its_own_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_host_flags", lambda: {"avx2": True, "avx512f": True, "avx512_vnni": True})
    assert AVX2.mode(cases.get("ort-int8-qdq")) == "qemu" and AVX2.mode(cases.get("torch-int8-fx")) == "qemu"
    assert AVX2.mode(cases.get("torch-int8-pt2e")) == "env" and AVX2.env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert HOST.mode(cases.get("ort-int8-qdq")) == "in-process"


def test_target_names_are_parsed_and_unknown_ones_listed() -> None:
    import argparse

    assert registry.parse_targets("host, avx2,host") == ("host", "avx2")
    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown target 'arm'; known: host, avx2, mcu"):
        registry.parse_targets("host,arm")


def test_shards_cover_every_image_once() -> None:
    assert children.shards(10_000, 2) == [(0, 5000), (5000, 10_000)]
    assert children.shards(3, 8) == [(0, 1), (1, 2), (2, 3)]


def test_an_avx2_only_host_is_the_avx2_target_natively(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the host has none of the flags the avx2 target forbids, it is evaluated natively (no qemu), and the
    header, JSON and report say so through `how`; a host with AVX-512 or VNNI still goes through qemu."""
    from ptq_helpers.matrix import cases
    from ptq_helpers.targets import base

    case = cases.get("ort-int8-qdq")
    monkeypatch.setattr(base, "_host_flags", lambda: {"avx2": True, "avx512f": False, "avx512_vnni": False,
                                                      "avx_vnni": False, "amx_int8": False})
    assert AVX2.mode(case) == "native"
    assert AVX2.how(case).startswith("natively: the host has no avx512f, avx512_vnni")
    assert AVX2.missing_tool(case) is None  # no emulator needed
    assert AVX2.here().endswith("native, the host has no avx512f, avx512_vnni, avx_vnni, amx_int8 (no emulation)")
    assert AVX2.cpu_label(case) == base.summary(base.cpu_facts())
    monkeypatch.setattr(base, "_host_flags", lambda: {"avx2": True, "avx512f": True, "avx512_vnni": True})
    assert AVX2.mode(case) == "qemu" and AVX2.how(case) == "qemu-x86_64 -cpu Haswell"
    assert AVX2.here() == AVX2.description and AVX2.cpu_label(case).startswith("emulated Haswell")
