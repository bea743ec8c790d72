"""`none`: the table as exported; the encoder quantizer then treats it as optimum + ORT would."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .base import CompressedEmbedding, EmbeddingMethod
from .token_stats import TokenStats


class TableEmbedding(CompressedEmbedding):
    quantizable = True

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__(*table.shape)
        self.register_buffer("weight", table.detach().clone().float())

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(input_ids, self.weight)


@dataclass(frozen=True)
class NoCompression(EmbeddingMethod):
    name = "none"
    summary = "keep the fp32 table (int8-quantized with the rest, per tensor, as ORT does)"
    lossy = False

    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> TableEmbedding:
        return TableEmbedding(table)
