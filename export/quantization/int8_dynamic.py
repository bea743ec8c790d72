"""int8-dynamic: ORT's dynamic int8 quantization, per-channel int8 MatMul weights, uint8 activations quantized at
run time. The compressed parts' own nodes (code and LUT Gathers, decoder MatMuls) are left alone: quantize_dynamic
would otherwise rewrite them. Only an uncompressed table (`--embedding none`) is quantized with the encoder, as
optimum + ORT quantize it (per-tensor int8)."""

from __future__ import annotations

from pathlib import Path

from .base import Quantization


class Int8Dynamic(Quantization):
    name = "int8-dynamic"
    summary = "dynamic int8: per-channel int8 MatMul weights, uint8 activations quantized at run time"
    smoothable = True

    def quantize(self, onnx_model: Path, keep: list[str], out: Path) -> Path:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            onnx_model,
            out,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
        )
        return out
