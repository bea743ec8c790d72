"""Stage 4: quantize the rest of the model with ORT dynamic int8 (per-channel MatMul weights).

The compressed embedding's own nodes (code/LUT Gathers, decoder MatMuls) are excluded: ORT's quantize_dynamic
would otherwise rewrite the uint8 code Gather and the decoder. Only the uncompressed table (`--embedding none`)
is left to the quantizer, which then does what optimum + ORT do to it (per-tensor int8).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .config import QuantizeConfig
from .errors import UserInputError
from .onnx_export import ExportedGraph
from .onnx_graph import load_graph

QUANTIZE_MODES = {
    "int8-dynamic": "dynamic int8: per-channel int8 MatMul weights, uint8 activations quantized at run time",
    "none": "keep fp32 weights",
}


def check_mode(mode: str) -> None:
    if mode not in QUANTIZE_MODES:
        raise UserInputError(f"unknown --quantize mode '{mode}'; choose one of: {', '.join(QUANTIZE_MODES)}")


def quantize(graph: ExportedGraph, config: QuantizeConfig, embedding_quantizable: bool, out: Path) -> Path:
    if config.mode == "none":
        shutil.copyfile(graph.path, out)
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = [] if embedding_quantizable else graph.embedding_scope.node_names(load_graph(graph.path))
    quantize_dynamic(
        graph.path,
        out,
        op_types_to_quantize=["MatMul", "Gather"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded,
    )
    return out
