"""`int8`: ORT's dynamic int8 quantization, as optimum + ORT apply it to the baseline: per-channel symmetric int8
MatMul weights, uint8 activations quantized at run time; the weights then stored as uint8 less 128
(`store_weights_as_uint8`: the same values, a kernel that cannot saturate). The compressed table's own nodes (code
and LUT Gathers, decoder MatMuls) are left alone, or quantize_dynamic would rewrite them; an uncompressed table
(`--embedding none`) is quantized with the encoder, per tensor as optimum does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import EncoderMethod

UINT8_ZERO_POINT = 128  # an int8 weight w is stored as uint8 w + 128 and read with this zero point


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
    store_weights_as_uint8(out)
    return out


def store_weights_as_uint8(path: Path) -> None:
    """Rewrite the model at `path`: each MatMulInteger weight quantize_dynamic stored as symmetric int8 (zero point
    0) becomes uint8 w + 128 with zero point 128. Every (w − zero point) is the same integer, so wherever the kernels
    sum exactly every output is the same number (ARM's and AVX-512 VNNI's uint8 × int8 kernels, and every uint8 ×
    uint8 one). ONNX Runtime's uint8 × int8 kernel on x86 without VNNI (AVX2, vpmaddubsw) adds each pair of products
    into 16 bits, which saturates when both activations and weights of a pair are large: per-channel weights reach
    ±127 in every column, and a tiny ELECTRA's parity fell to 0.965 against the baseline's 0.9999 on an AMD EPYC
    without AVX-512. Its uint8 × uint8 kernel widens to 16 bits first and cannot saturate."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    nodes = model.graph.node
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    readers: dict[str, set[int]] = {}  # tensor name → the indices of the nodes reading it
    for index, node in enumerate(nodes):
        for name in node.input:
            readers.setdefault(name, set()).add(index)

    def symmetric_int8_weight(node: onnx.NodeProto) -> bool:
        if node.op_type != "MatMulInteger" or len(node.input) != 4:
            return False
        weight, zero_point = (initializers.get(name) for name in node.input[1:4:2])
        int8 = onnx.TensorProto.INT8
        return (weight is not None and zero_point is not None and weight.data_type == zero_point.data_type == int8
                and not numpy_helper.to_array(zero_point).any())  # fmt: skip

    # A node's weight and zero point change together, and a tensor only when every node reading it changes.
    chosen = {index for index, node in enumerate(nodes) if symmetric_int8_weight(node)}
    while True:
        kept = {index for index in chosen if all(readers[name] <= chosen for name in nodes[index].input[1:4:2])}
        if kept == chosen:
            break
        chosen = kept
    for name in {name for index in chosen for name in nodes[index].input[1:4:2]}:
        shifted = numpy_helper.to_array(initializers[name]).astype(np.int16) + UINT8_ZERO_POINT
        initializers[name].CopyFrom(numpy_helper.from_array(shifted.astype(np.uint8), name))
    onnx.save(model, str(path))


@dataclass(frozen=True)
class Int8Encoder(EncoderMethod):
    name = "int8"
    summary = "dynamic int8: per-channel int8 weights, activations quantized at run time (~4x)"
    smoothable = True

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        return quantize_int8(onnx_model, keep, out)
