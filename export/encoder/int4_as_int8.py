"""`int4-as-int8`: `int4`'s kind of weights (4-bit codes, one scale per block of inputs, rounded in PyTorch first
so parity holds the bundle to what it ships; here each scale is fp16), stored as uint8-packed codes and block
scales that standard ONNX ops decode into the per-channel int8 weights of ORT's dynamic int8 MatMul, within
[-63, 63]. 7 bits round each weight to within about 1/16 of the code step of its channel's widest block (1/32
in 8 bits; the 4-bit codes themselves round to within 1/2), and with them ORT's uint8 × int8 kernel on x86
without VNNI (AVX2's vpmaddubsw, which adds each pair of products in 16 bits) cannot saturate (2 · 255 · 63 <
32,767): it sums exactly, as the ARM and VNNI kernels do, at int8's speed. (The int8 encoder's full-range
weights need uint8 w + 128 and the slower uint8 × uint8 kernel instead: int8.store_weights_as_uint8.) The decode
reads no input, so ONNX Runtime constant-folds it when it loads an `.onnx` file: the file keeps about 4.2 bits per
weight and the session runs the int8 kernels (holding the 8-bit weights in memory). ORT's x86 MatMulNBits kernels,
which `int4` uses, are about 2.2-2.4x slower than its int8 ones (docs/encoder.md).

The `.ort` conversion would fold the decode into the file (8 bits again), so `onnx-mobile` ships it as a second
model, weights.ort, that the runtime runs once at load (targets/load_time_decode.py).

Per weight W [K inputs, N outputs] (ONNX's MatMul layout), K padded to whole blocks of b: codes + 8 in [0, 15],
in each block rows k and k + b/2 packed into one byte (low and high nibble), s_b the block scales; then
    codes = Cast(Concat(packed mod 16, packed >> 4)) - 8          (per block, as uint8 until the Cast)
    s = max(8 · max_b |s_b| / 63, tiny)                             (the channel's largest |W| / 63: ORT's
    W = Cast<int8>(Round(codes × (s_b / s)))[:K]                      symmetric per-channel rounding, in 7 bits)
the int8 MatMul reads s as its weight scale and one shared scalar zero point, 0. So the file holds only the codes
and the fp16 block scales of each weight: 0.35x of the baseline's file with a lighttoken 25x table, as int4's
`.ort`. The chain keeps few full-size tensors, since ONNX Runtime holds every folded intermediate until its folding
pass ends.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import UserInputError
from .int4 import LOWEST, Int4Encoder, codes_and_scales, gemms_as_matmuls, round_to_blocks, weight_matmuls
from .int8 import UINT8_ZERO_POINT, quantize_int8

# The decoded weights' range, [-63, 63]: with uint8 activations each pair of products sums within int16, so no x86
# kernel saturates (OpenVINO's "7-bit weights" workaround for the same instruction)
WEIGHT_LIMIT = 63.0
ZERO_POINT = "int4_int8_zero_point"  # one scalar zero point for every weight, not one per output channel


def block_codes(weight: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes int8 [K_padded / block, block, N], scales fp16 [K_padded / block, 1, N]) of a weight [K, N] already
    on this method's grid: int4's codes_and_scales of its transpose, laid out along ONNX's MatMul inputs."""
    transposed = torch.from_numpy(np.ascontiguousarray(weight.T))
    codes, scales = codes_and_scales(transposed, block, Int4AsInt8.scale_dtype)
    if not torch.equal(round_to_blocks(transposed, block, Int4AsInt8.scale_dtype), transposed):
        raise UserInputError("int4-as-int8: a weight is not on the int4 grid (export/encoder/int4.py rounds it)")
    # [N, blocks, block] → [blocks, block, N]
    return codes.permute(1, 2, 0).numpy().astype(np.int8), scales.permute(1, 2, 0).numpy().astype(np.float16)


def packed(codes: np.ndarray) -> np.ndarray:
    """uint8 [blocks, block / 2, N]: in each block, row k's code + 8 in the low nibble, row k + block / 2's in the
    high one."""
    half = codes.shape[1] // 2
    shifted = (codes.astype(np.int16) - LOWEST).astype(np.uint8)
    return shifted[:, :half] | (shifted[:, half:] << 4)


def decode_nodes(stem: str, weights: list[tuple[np.ndarray, str, str]], block: int, opset: int):
    """The initializers and nodes, named from `stem`, that decode a group of weights of one shape [K, N] in one
    chain (a chain per weight would be 16 nodes each, and an `.ort` node costs about 250 bytes: docs/encoder.md):
    each (weight, channel_scale, out) gets its int8 weight `out` and the per-channel scale `channel_scale` the int8
    MatMul reads, split off the chain's stacked results. Every full-size tensor of the chain is held in memory
    while ONNX Runtime folds it at load, so the chain has few: the nibbles split as uint8, one float copy, one
    multiply, one rounding."""
    from onnx import TensorProto, helper, numpy_helper

    blocks = [block_codes(weight, block) for weight, _, _ in weights]
    inputs, outputs = weights[0][0].shape
    count = len(weights)
    tensors = {
        f"{stem}_packed": np.stack([packed(codes) for codes, _ in blocks]),  # [g, blocks, block / 2, N]
        f"{stem}_block_scales": np.stack([scales for _, scales in blocks]),  # [g, blocks, 1, N]
        f"{stem}_shape": np.array([count, -1, outputs], dtype=np.int64),
        f"{stem}_rows": np.array([inputs], dtype=np.int64),
        f"{stem}_flat": np.array([count * inputs, outputs], dtype=np.int64),
        f"{stem}_flat_scales": np.array([count * outputs], dtype=np.int64),
        f"{stem}_row_split": np.full(count, inputs, dtype=np.int64),
        f"{stem}_scale_split": np.full(count, outputs, dtype=np.int64),
    }
    initializers = [numpy_helper.from_array(value, key) for key, value in tensors.items()]

    def node(op: str, inputs: list[str], suffix: str, **attributes) -> Any:
        return helper.make_node(op, inputs, [f"{stem}_{suffix}"], name=f"{stem}_{suffix}", **attributes)

    def split(source: str, sizes: str, outs: list[str], suffix: str) -> Any:  # Split's sizes: an input from 13 on
        if opset < 13:
            return helper.make_node("Split", [source], outs, name=f"{stem}_{suffix}", axis=0,
                                    split=[int(v) for v in tensors[sizes]])  # fmt: skip
        return helper.make_node("Split", [source, sizes], outs, name=f"{stem}_{suffix}", axis=0)

    nodes = [
        node("Mod", [f"{stem}_packed", "int4_sixteen"], "low"),
        node("BitShift", [f"{stem}_packed", "int4_four"], "high", direction="RIGHT"),
        node("Concat", [f"{stem}_low", f"{stem}_high"], "shifted", axis=2),
        node("Cast", [f"{stem}_shifted"], "float", to=TensorProto.FLOAT),
        node("Sub", [f"{stem}_float", "int4_eight"], "codes"),
        # the block's largest magnitude is 8 |scale|: the channel's is 8 max |scale| over its blocks, and the int8
        # step s = that / 63; the codes times scale / s then round to int8 within [-63, 63], with no clipping
        node("Cast", [f"{stem}_block_scales"], "scales", to=TensorProto.FLOAT),
        node("Abs", [f"{stem}_scales"], "magnitudes"),
        # ReduceMax takes its axes as an attribute before opset 18, as an input from 18 on
        node("ReduceMax", [f"{stem}_magnitudes"], "largest", axes=[1, 2], keepdims=1) if opset < 18
        else node("ReduceMax", [f"{stem}_magnitudes", "int4_block_axes"], "largest", keepdims=1),
        node("Mul", [f"{stem}_largest", "int4_eight_over_limit"], "step"),
        node("Max", [f"{stem}_step", "int4_tiny"], "channel_scales"),  # [g, 1, 1, N]
        node("Div", [f"{stem}_scales", f"{stem}_channel_scales"], "ratios"),
        node("Mul", [f"{stem}_codes", f"{stem}_ratios"], "steps"),
        node("Round", [f"{stem}_steps"], "rounded"),
        node("Cast", [f"{stem}_rounded"], "int8", to=TensorProto.INT8),
        node("Reshape", [f"{stem}_int8", f"{stem}_shape"], "padded"),  # [g, K padded to blocks, N]
        node("Slice", [f"{stem}_padded", "int4_zero", f"{stem}_rows", "int4_one"], "unpadded"),  # [g, K, N]
        node("Reshape", [f"{stem}_unpadded", f"{stem}_flat"], "stacked"),  # [g·K, N]
        node("Reshape", [f"{stem}_channel_scales", f"{stem}_flat_scales"], "stacked_scales"),  # [g·N]
        split(f"{stem}_stacked", f"{stem}_row_split", [out for _, _, out in weights], "weights"),
        split(f"{stem}_stacked_scales", f"{stem}_scale_split", [scale for _, scale, _ in weights], "scales_out"),
    ]
    return initializers, nodes


def _symmetric(zero_point: np.ndarray) -> bool:
    """A zero point of the int8 pass's symmetric weights: 0 as int8, 128 as uint8 (store_weights_as_uint8)."""
    return not (zero_point.astype(np.int16) - (UINT8_ZERO_POINT if zero_point.dtype == np.uint8 else 0)).any()


def shared_constants() -> list:
    """The decode's constants, whichever the opset reads (ReduceMax's axes are an input only from opset 18)."""
    from onnx import numpy_helper

    values = {
        "int4_sixteen": np.uint8(16), "int4_four": np.uint8(4), "int4_eight": np.float32(-LOWEST),
        "int4_zero": np.array([0]), "int4_one": np.array([1]), "int4_block_axes": np.array([1, 2]),
        "int4_eight_over_limit": np.float32(-LOWEST / WEIGHT_LIMIT), "int4_tiny": np.finfo(np.float32).tiny,
        ZERO_POINT: np.int8(0),
    }  # fmt: skip
    return [numpy_helper.from_array(np.asarray(value), key) for key, value in values.items()]


def constants_read_by(nodes: list, initializers: list) -> list:
    """The initializers some node reads: one that none does (a constant of another opset's form) makes ONNX Runtime
    warn at every session's start."""
    read = {name for node in nodes for name in node.input}
    return [tensor for tensor in initializers if tensor.name in read]


def decoded_from_codes(quantized, weights: dict[str, np.ndarray], block: int, encoder_nodes: list[str]):
    """The int8 model `quantized` with each int8 weight of `weights` (fp32 on the grid, by name) replaced by its
    decode from packed codes, one decode chain per part and weight shape."""
    from onnx import numpy_helper

    initializers = {t.name: t for t in quantized.graph.initializer}
    # each decode is named under the path of the module whose MatMul reads it (the encoder's, or the head's), so
    # the size report counts it in that part; and briefly: every tensor and node name is stored in the file
    reader = {name: node.name for node in reversed(quantized.graph.node) for name in node.input}
    encoder = posixpath.commonpath(encoder_nodes) + "/"
    opset = next(o.version for o in quantized.opset_import if o.domain in ("", "ai.onnx"))
    groups: dict[tuple[str, tuple[int, ...]], list[tuple[np.ndarray, str, str]]] = {}
    zero_points = set()
    for name, weight in weights.items():
        int8_name, scale, zero = f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"
        if int8_name not in initializers or not _symmetric(numpy_helper.to_array(initializers[zero])):
            raise UserInputError(f"int4-as-int8: the int8 pass did not store {name} as symmetric int8 weights")
        read_by = reader[int8_name]
        part = encoder if read_by.startswith(encoder) else read_by.rpartition("/")[0] + "/"
        groups.setdefault((part, weight.shape), []).append((weight, scale, int8_name))
        for stored in (int8_name, scale, zero):
            quantized.graph.initializer.remove(initializers[stored])
        zero_points.add(zero)
    decode, added = [], shared_constants()
    for number, ((part, _), members) in enumerate(groups.items()):
        constants, nodes = decode_nodes(f"{part}int4_{number}", members, block, opset)
        added.extend(constants)
        decode.extend(nodes)
    for node in quantized.graph.node:
        for index, name in enumerate(node.input):
            if name in zero_points:
                node.input[index] = ZERO_POINT
    everything = decode + list(quantized.graph.node)  # the decode first: nodes stay topologically sorted
    del quantized.graph.node[:]
    quantized.graph.node.extend(everything)
    quantized.graph.initializer.extend(constants_read_by(everything, added))
    return quantized


@dataclass(frozen=True)
class Int4AsInt8(Int4Encoder):
    name = "int4-as-int8"
    summary = "int4's 4-bit weights decoded at load into int8 ones: int4's file, int8's speed"
    scale_dtype: ClassVar[torch.dtype] = torch.float16  # see the module's docstring
    decodes_at_load: ClassVar[bool] = True

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        import onnx
        from onnx import numpy_helper

        model = gemms_as_matmuls(onnx.load(str(onnx_model)), keep)
        kept = set(keep)
        grid = set(weight_matmuls(model, [n.name for n in model.graph.node if n.name not in kept]))
        names = {n.input[1] for n in model.graph.node if n.name in grid}
        weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.name in names}
        matmuls = out.with_name(out.stem + "-matmuls.onnx")
        onnx.save(model, str(matmuls))
        int8 = quantize_int8(matmuls, keep, out.with_name(out.stem + "-int8.onnx"))
        decoded = decoded_from_codes(onnx.load(str(int8)), weights, facts["block_size_used"], encoder_nodes)
        onnx.save(decoded, str(out))
        return out
