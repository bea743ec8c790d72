"""`int8`: ORT's dynamic int8 quantization, as optimum + ORT apply it to the baseline: per-channel int8 MatMul
weights, uint8 activations quantized at run time. The compressed table's own nodes (code and LUT Gathers, decoder
MatMuls) are left alone, or quantize_dynamic would rewrite them; an uncompressed table (`--embedding none`) is
quantized with the encoder, per tensor as optimum does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import EncoderMethod


def quantize_int8(onnx_model: Path, exclude: list[str], out: Path) -> Path:
    """Dynamic int8 for every MatMul with constant weights and every table Gather, except the nodes in `exclude`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        onnx_model,
        out,
        op_types_to_quantize=["MatMul", "Gather"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
    )
    return out


@dataclass(frozen=True)
class Int8Encoder(EncoderMethod):
    name = "int8"
    summary = "dynamic int8: per-channel int8 weights, activations quantized at run time (~4x)"
    smoothable = True

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        return quantize_int8(onnx_model, keep, out)
