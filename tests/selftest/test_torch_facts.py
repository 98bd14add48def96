"""PyTorch uint8: the quantized engine rejects quint8 weights, and FX would silently keep such convs in fp32, so
the suite's helper refuses them (its refusal of the matrix row is a gate: tests/gates/test_unsupported.py)."""
from __future__ import annotations

import pytest
import torch

from ptq_helpers.backends.pytorch.backend import TorchQuant
from ptq_helpers.core.errors import UnsupportedQuantization
from ptq_helpers.backends.pytorch.backend import check_supported, fx_quantize, quiet_torch


def test_helper_refuses_quint8_weights() -> None:
    with pytest.raises(UnsupportedQuantization, match=r"pytorch/uint8: the fbgemm quantized engine requires qint8"):
        check_supported(TorchQuant("fbgemm", "quint8"))


@pytest.mark.parametrize("engine", ["fbgemm", "x86"])
def test_engine_rejects_quint8_conv_weights(engine: str) -> None:
    torch.backends.quantized.engine = engine
    with quiet_torch():
        weight = torch.quantize_per_tensor(torch.randn(4, 3, 3, 3), 0.05, 128, torch.quint8)
        with pytest.raises(RuntimeError, match="(?i)qint8"):
            torch.ops.quantized.conv2d_prepack(weight, None, [1, 1], [0, 0], [1, 1], 1)


class _TinyConv(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 3, 1, 2))


def test_fx_silently_keeps_fp32_convs_with_quint8_weights() -> None:
    """Why the refusal must be ours: FX does not raise, it leaves the conv unquantized."""
    calib = torch.rand(8, 8, 8, 3).numpy() * 255
    int8 = fx_quantize(_TinyConv().eval(), TorchQuant("fbgemm", "qint8"), calib)
    uint8 = fx_quantize(_TinyConv().eval(), TorchQuant("fbgemm", "quint8"), calib, check=False)
    kinds = lambda gm: {type(m).__module__ + "." + type(m).__name__ for m in gm.modules()}  # noqa: E731
    assert any("quantized" in k and k.endswith("Conv2d") for k in kinds(int8))
    assert "torch.nn.modules.conv.Conv2d" in kinds(uint8)
