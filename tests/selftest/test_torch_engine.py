"""The PyTorch runner sets the quantized engine its model was built for: a stale process-wide setting must not
change the answers (it loads torch, so it is a self-test, not part of the warm gate)."""
from __future__ import annotations

import numpy as np
import pytest

from ptq_helpers.matrix import cases

pytestmark = pytest.mark.real


@pytest.mark.parametrize("case", [c for c in cases.QUANTIZED if c.framework == "pytorch"], ids=str)
def test_torch_model_runs_on_its_own_engine(case: cases.Case, ptq_store, test_split) -> None:
    """The quantized engine is process-global and changes results; a stale setting must not leak in."""
    import torch

    from ptq_helpers.backends.evaluate import make_runner

    result = ptq_store.result(case)
    other = "x86" if case.quant.engine != "x86" else "fbgemm"
    torch.backends.quantized.engine = other  # stale setting at load time ...
    run = make_runner(case, result.artifact.path, ptq_store.settings.threads)
    torch.backends.quantized.engine = other  # ... and at call time
    preds = run(test_split.images(np.arange(2000))).argmax(1)
    np.testing.assert_array_equal(preds, result.predictions[:2000])
