"""The baseline every size is held against: what a user gets without this project.

`optimum-cli export onnx --model M --task T OUT` then `optimum-cli onnxruntime quantize --onnx_model OUT
--arm64`: optimum's exporter and ORTQuantizer with the arm64 dynamic int8 config, run here through the same
Python APIs those commands call.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .encoder import encoder_of
from .onnx_export import scope_of
from .onnx_graph import Scope, bypass_weight_copies, load_graph, size_breakdown, token_table_bytes
from .targets import Target


@dataclass(frozen=True)
class Baseline:
    onnx_bytes: int  # model_quantized.onnx as optimum writes it
    model_path: Path  # the same model in the bundle's target format (.ort for onnx-mobile), as a user would ship it
    model_bytes: int
    breakdown: dict[str, int]  # of model_path's bytes: token table / encoder layers / everything else


def encoder_scope(model: nn.Module) -> Scope:
    """Where `model`'s encoder layers sit in the baseline's graph (for its bytes-by-part breakdown)."""
    return scope_of(model, encoder_of(model))


def build_baseline(checkpoint_dir: Path, task: str, work: Path, target: Target, encoder: Scope) -> Baseline:
    """`encoder`: the encoder's layers as the HF model names them (optimum's graph may wrap them, Scope.in_graph)."""
    from optimum.exporters.onnx import main_export
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    exported, quantized = work / "baseline-fp32", work / "baseline-int8"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        main_export(str(checkpoint_dir), output=exported, task=task, device="cpu")
        quantizer = ORTQuantizer.from_pretrained(exported)
        quantizer.quantize(
            save_dir=quantized,
            quantization_config=AutoQuantizationConfig.arm64(is_static=False, per_channel=False),
        )
    onnx_path = quantized / "model_quantized.onnx"
    model_path = work / f"baseline-{target.model_file}"
    target.write_model(onnx_path, model_path)
    model_bytes = model_path.stat().st_size
    graph = load_graph(onnx_path)
    bypass_weight_copies(graph)  # read as ours is: a weight's copy counts where its reader is
    breakdown = size_breakdown(token_table_bytes(graph), encoder.in_graph(graph).stored_bytes(graph), model_bytes)
    return Baseline(onnx_path.stat().st_size, model_path, model_bytes, breakdown)
