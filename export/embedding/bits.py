"""Packed codes and their decode in standard ONNX ops.

Codes are stored as uint8 rows and unpacked per looked-up token with a lookup table: Gather(codes) → Cast(int32) →
Gather(LUT) → Reshape: as fast as a plain embedding Gather, exact, and inside ORT's legacy mobile op set
(BitShift/BitwiseAnd are not, and float arithmetic is twice as slow). Gather cannot index with uint8, hence the
Cast.

Weights that multiply the unpacked codes are stored as int8 with per-column fp32 scales and traced to one
DequantizeLinear node (`dequantize`): a Cast + Mul on constants would be folded back into an fp32 copy by the
exporter, doubling or quadrupling the bytes the method claims. ±1 codes times an int8 weight are better still
(`sign_product`): an integer MatMul that reads the weight as stored, where DequantizeLinear → MatMul becomes ORT's
MatMulNBits in the `.ort` conversion, a slow kernel on x86 (docs/encoder.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# The smallest positive fp16 (a subnormal): the floor of an fp16 scale, so an all-zero row or block keeps a
# nonzero scale (a floor set before the cast rounds to 0 there, and 0/0 gives NaN codes).
FP16_TINIEST = 2.0**-24


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """bool [rows, n·8] → uint8 [rows, n], most significant bit first (np.packbits order)."""
    return torch.from_numpy(np.packbits(bits.numpy().astype(np.uint8), axis=1))


def unpack_bits(packed: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(packed.numpy(), axis=1).astype(bool))


def sign_lut() -> torch.Tensor:
    """[256, 8] float32: row v holds the 8 bits of v, MSB first, as -1/+1."""
    return torch.from_numpy(np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32) * 2 - 1)


def shifted_sign_lut() -> torch.Tensor:
    """[256, 8] uint8: sign_lut + 1 (0 or 2), the form `sign_product` reads with a zero point of 1."""
    return (sign_lut() + 1).to(torch.uint8)


def nibble_lut() -> torch.Tensor:
    """[256, 2] float32: row v holds (v >> 4) - 8 and (v & 15) - 8, the two signed 4-bit values of a byte."""
    v = np.arange(256)
    return torch.from_numpy(np.stack([(v >> 4) - 8, (v & 15) - 8], axis=1).astype(np.float32))


def lookup(packed: torch.Tensor, lut: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Unpack the looked-up rows: [..., n] uint8 → [..., n · lut_width] float32."""
    return lut[packed[input_ids].int()].flatten(-2)


class _Dequantize(torch.autograd.Function):
    """q · scale along q's last axis, traced to DequantizeLinear so the int8 weight stays int8 in the graph."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, scale: torch.Tensor, axis: int) -> torch.Tensor:
        return q.float() * scale

    @staticmethod
    def symbolic(g, q, scale, axis):
        return g.op("DequantizeLinear", q, scale, axis_i=axis)


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """int8 [..., cols] with fp32 scales [cols] → float32 [..., cols]."""
    return _Dequantize.apply(q, scale, q.dim() - 1)


class _SignProduct(torch.autograd.Function):
    """(a − 1) · q · scale for uint8 a (0 or 2: ±1 shifted) and int8 q, traced to MatMulInteger with a zero point
    of 1 → Cast → Mul: uint8 × int8 is the integer product x86's and ARM's fast kernels take (x86 runs int8 × int8
    on a slow path). Every partial sum is an integer under 2^24, so float32 here and int32 there add exactly; the
    one rounding is the scale's, the same in both."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a.float() - 1, q.float()) * scale

    @staticmethod
    def symbolic(g, a, q, scale):
        one = g.op("Constant", value_t=torch.tensor(1, dtype=torch.uint8))
        product = g.op("MatMulInteger", a, q, one)
        return g.op("Mul", g.op("Cast", product, to_i=1), scale)  # to FLOAT


def sign_product(a: torch.Tensor, q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """±1 codes shifted to uint8 [..., k] (shifted_sign_lut) times int8 [k, cols] with fp32 scales [cols] →
    float32 [..., cols]."""
    if a.shape[-1] * 127 >= 2**24:
        raise ValueError(f"an int8 product over {a.shape[-1]} terms may not add exactly in float32")
    return _SignProduct.apply(a, q, scale)


def quantize_columns(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-column int8 for a [rows, cols] float matrix."""
    scale = (weight.abs().amax(dim=0) / 127).clamp(min=1e-12).float()
    return torch.round(weight / scale).clamp(-127, 127).to(torch.int8), scale


class Int8Matrix(nn.Module):
    """A weight stored as int8 + per-column scale (`q`, `scale`), read by `sign_product` or, row by row after a
    Gather, by `dequantize`: never dequantized whole."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        q, scale = quantize_columns(weight)
        self.register_buffer("q", q)
        self.register_buffer("scale", scale)
