"""The fp32 model a run gates, checked once before any test: the reference weights or not, its input contract and
(a .pt2's) conversion agreement; every problem is one usage error naming the model."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ptq_helpers.core.errors import ConfigError, PTQError
from ptq_helpers.data.assets import Assets
from ptq_helpers.data.contract import REFERENCE_WEIGHTS_SHA256, USER_FIX, read_contract, weights_sha256
from ptq_helpers.data.conversions import agreement_of
from ptq_helpers.data.input_contract import ContractOptions, InputContract


def inspect_model(assets: Assets, cache: Path) -> tuple[bool, InputContract, dict[str, Any] | None]:
    """Whether the fp32 model has the reference ResNet8's weights, its input contract and (a .pt2's) conversion
    agreement; checked once, up front (an .h5 or .pt2 is converted here, once, and cached). The reference model
    with the default options is not opened here (its contract is the default; Inputs.source checks it), so runs
    that need no real inputs (-m 'not real') need no assets."""
    if assets.model is None and assets.contract == ContractOptions():
        return True, InputContract(), None
    where = f"--ptq-model {assets.model}" if assets.model else "the reference model"
    try:
        onnx_path = assets.onnx_model()
        contract = read_contract(onnx_path, assets.contract, cache, USER_FIX if assets.model else
                                 "replace it with resnet8.onnx or delete it so it is converted from the .h5",
                                 where=f"{where} ({onnx_path.name})" if assets.pt2 else where)
    except ConfigError:
        raise
    except PTQError as exc:
        raise ConfigError(f"--ptq-model {assets.model}: {exc}" if assets.model else str(exc)) from None
    reference = assets.model is None or weights_sha256(onnx_path, cache) == REFERENCE_WEIGHTS_SHA256
    return reference, contract, agreement_of(onnx_path) if assets.pt2 else None
