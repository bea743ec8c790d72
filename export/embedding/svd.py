"""`svd`: rank-k factors E ≈ (U_k S_k) V_kᵀ; the per-token factor in fp16, the small basis in fp32.

Storing the [k, dim] basis in fp32 keeps the decode a plain Gather → Cast → MatMul with an fp32 initializer:
an fp16 basis would need a Cast on a constant, which the ONNX exporter folds into an fp32 copy anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import CompressedEmbedding, EmbeddingMethod, RatioOutOfReach, fp32_table_bytes
from .token_stats import TokenStats


class LowRank(CompressedEmbedding):
    def __init__(self, token_factors: torch.Tensor, basis: torch.Tensor) -> None:
        super().__init__(token_factors.shape[0], basis.shape[1])
        self.register_buffer("token_factors", token_factors)  # fp16 [vocab, k]
        self.register_buffer("basis", basis)  # fp32 [k, dim]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.token_factors[input_ids].float(), self.basis)

    def describe(self) -> dict[str, int]:
        return {"rank": self.basis.shape[0]}


def highest_rank(vocab: int, dim: int) -> int:
    """A factorisation of a [vocab, dim] table has at most min(vocab, dim) independent directions."""
    return min(vocab, dim)


def rank_for_ratio(vocab: int, dim: int, ratio: float) -> int:
    """The k whose stored bytes (2·vocab·k + 4·k·dim) come closest to fp32_bytes / ratio."""
    return round(vocab * dim * 4 / ratio / (2 * vocab + 4 * dim))


def truncated_svd(table: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    # float64 keeps the factorisation accurate and the result identical run to run.
    u, s, vh = torch.linalg.svd(table.double(), full_matrices=False)
    return (u[:, :rank] * s[:rank]).float(), vh[:rank].float()


@dataclass(frozen=True)
class Svd(EmbeddingMethod):
    name = "svd"
    summary = "truncated SVD, rank from --ratio (fp16 token factors, fp32 basis)"

    ratio: float = 8.0

    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> LowRank:
        vocab, dim = table.shape
        rank = rank_for_ratio(vocab, dim, self.ratio)
        if not 1 <= rank <= highest_rank(vocab, dim):
            ranks = (highest_rank(vocab, dim), 1)
            reachable = tuple(fp32_table_bytes(table) / (2 * vocab * k + 4 * k * dim) for k in ranks)
            raise RatioOutOfReach(self.name, self.ratio, (vocab, dim), reachable)
        token_factors, basis = truncated_svd(table.float(), rank)
        return LowRank(token_factors.half(), basis)
