"""`int4`: per-block symmetric 4-bit codes with fp16 block scales, decoded per token with a nibble lookup table.

The stand-in for ORT's GatherBlockQuantized (4 bits, block 32), written in standard ops so it runs on any ORT
build and in the legacy mobile op set. Two codes per byte; a block's values are (code − 8) · scale.
The block size sets the ratio: bytes per row = dim/2 + 2·dim/block, so ratio = 8 / (1 + 4/block) against fp32
(block 32: 7.1x); --ratio picks the block size. The default, 7.3, picks block 32 whether or not the bundle
leaves out unreachable rows (7.1x on the whole table without, 7.4x with BERT's uncased vocabulary). With --vocab
the ratio still counts the whole original table, so the kept rows' share scales it: SST-2's 13,116 of 30,522
rows need --ratio about 16.5 for block 32 (the default asks 3.1x of the kept rows, which no block reaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import UserInputError
from .base import RATIO_TOLERANCE, CompressedEmbedding, EmbeddingMethod, RatioOutOfReach
from .bits import FP16_TINIEST, lookup, nibble_lut
from .token_stats import TokenStats

BLOCKS = (8, 16, 32, 64, 128, 256)


class Int4Blocks(CompressedEmbedding):
    def __init__(self, codes: torch.Tensor, scales: torch.Tensor, dim: int) -> None:
        super().__init__(codes.shape[0], dim)
        self.block = dim // scales.shape[1]
        self.register_buffer("codes", codes)  # uint8 [vocab, dim/2]
        self.register_buffer("scales", scales)  # fp16 [vocab, dim/block]
        self.register_buffer("lut", nibble_lut())  # fp32 [256, 2]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        values = lookup(self.codes, self.lut, input_ids)  # [..., dim]
        blocks = values.unflatten(-1, (-1, self.block)) * self.scales[input_ids].float().unsqueeze(-1)
        return blocks.flatten(-2)

    def describe(self) -> dict[str, int]:
        return {"bits": 4, "block": self.block}


def quantize_blocks(table: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab, dim = table.shape
    blocks = table.reshape(vocab, dim // block, block)
    scales = (blocks.abs().amax(dim=-1) / 7).half().clamp(min=FP16_TINIEST)  # fp16 first, codes fitted to it
    codes = torch.round(blocks / scales.float().unsqueeze(-1)).clamp(-7, 7).to(torch.int32) + 8
    codes = codes.reshape(vocab, dim // 2, 2)
    return (codes[..., 0] * 16 + codes[..., 1]).to(torch.uint8), scales


def stored_bytes(vocab: int, dim: int, block: int) -> int:
    """Codes + fp16 scales + the fp32 [256, 2] lookup table."""
    return vocab * (dim // 2 + 2 * (dim // block)) + 256 * 2 * 4


def ratio_of(vocab: int, dim: int, block: int) -> float:
    return vocab * dim * 4 / stored_bytes(vocab, dim, block)


@dataclass(frozen=True)
class Int4(EmbeddingMethod):
    name = "int4"
    summary = "4-bit codes in blocks with fp16 scales (~7x at block 32); --ratio picks the block size"

    ratio: float = 7.3  # the block size whose ratio comes closest (7.3: block 32, see above)

    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> Int4Blocks:
        vocab, dim = table.shape
        fitting = [b for b in BLOCKS if dim % b == 0]
        if not fitting:
            raise UserInputError(f"int4 needs a table width divisible by {BLOCKS[0]} (its smallest block); "
                                 f"this table is {dim} wide")  # fmt: skip
        block = min(fitting, key=lambda b: abs(ratio_of(vocab, dim, b) / self.ratio - 1))
        if abs(ratio_of(vocab, dim, block) / self.ratio - 1) > RATIO_TOLERANCE:
            reachable = tuple(ratio_of(vocab, dim, b) for b in fitting)
            raise RatioOutOfReach(self.name, self.ratio, (vocab, dim), reachable, stepped=True)
        return Int4Blocks(*quantize_blocks(table.float(), block), dim)
