"""`int8`: per-row symmetric int8 codes with fp16 scales, decoded per token as Gather → Cast → Mul."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import CompressedEmbedding, EmbeddingMethod
from .bits import FP16_TINIEST
from .token_stats import TokenStats


class Int8Rows(CompressedEmbedding):
    def __init__(self, codes: torch.Tensor, scales: torch.Tensor) -> None:
        super().__init__(*codes.shape)
        self.register_buffer("codes", codes)  # int8 [vocab, dim]
        self.register_buffer("scales", scales)  # fp16 [vocab, 1]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.codes[input_ids].float() * self.scales[input_ids].float()


def quantize_rows(table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: the scale is rounded to fp16 first so codes are fitted to the stored scale."""
    scales = (table.abs().amax(dim=1, keepdim=True) / 127).half().clamp(min=FP16_TINIEST)
    codes = torch.round(table / scales.float()).clamp(-127, 127).to(torch.int8)
    return codes, scales


@dataclass(frozen=True)
class Int8(EmbeddingMethod):
    name = "int8"
    summary = "per-row int8 codes + fp16 scales (~4x)"
    lossy = False

    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> Int8Rows:
        return Int8Rows(*quantize_rows(table.float()))
