"""Per-layer diagnosis of an ONNX Runtime QDQ model: SQNR of every quantized activation (qdq_loss_debug)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ptq_helpers.backends.onnxruntime.backend import OrtQuant
from ptq_helpers.matrix.cases import Case
from ptq_helpers.backends.onnxruntime.backend import CalibrationReader, private_copy


def activation_sqnr(case: Case, source: Path, quantized: Path, images: np.ndarray) -> list[dict[str, object]]:
    """Per activation tensor, sorted by name (qdq_loss_debug's own order varies run to run): SQNR (dB) of the
    quantize-dequantize step itself and of the
    quantized model's activation against the fp32 model's (lower = more noise)."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    q = case.quant
    assert isinstance(q, OrtQuant) and q.quant_format == "QDQ", case
    with tempfile.TemporaryDirectory(prefix="ptq-diag-") as tmp:
        work = Path(tmp)
        float_model = work / "float.onnx"
        private_copy(source, float_model)
        if q.preprocess:  # match the graph the quantizer saw (batch norm folded)
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(str(work / "float.onnx"), str(work / "float-pre.onnx"))
            float_model = work / "float-pre.onnx"
        modify_model_output_intermediate_tensors(str(float_model), str(work / "float-aug.onnx"))
        modify_model_output_intermediate_tensors(str(quantized), str(work / "qdq-aug.onnx"))
        name = onnx.load(str(float_model), load_external_data=False).graph.input[0].name
        float_acts = collect_activations(str(work / "float-aug.onnx"), CalibrationReader(name, images))
        qdq_acts = collect_activations(str(work / "qdq-aug.onnx"), CalibrationReader(name, images))
    errors = compute_activation_error(create_activation_matching(qdq_acts, float_acts))
    rows = []
    for name, err in sorted(errors.items()):
        rows.append({"tensor": name, "qdq_sqnr_db": round(float(err["qdq_err"]), 2),
                     "vs_fp32_sqnr_db": round(float(err["xmodel_err"]), 2) if "xmodel_err" in err else None})
    return rows
