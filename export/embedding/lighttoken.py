"""`lighttoken`: rank-k SVD plus residual binary codes in stages (after LightToken, Wang et al., KDD 2023).

Stored per token: k fp16 low-rank factors and b bits; shared: the [k, dim] fp32 basis, one int8 [b, dim]
decoder for all stages (the stages' linear decoders stacked; per-column fp32 scales), an fp32 bias and the
[256, 8] ±1 lookup table that unpacks the bits. Decode per looked-up token, standard ops only:
    Gather(codes) → Cast → Gather(LUT) → Reshape → MatMul(DequantizeLinear(decoder)) → Add(bias)
    (+ Gather(factors) → Cast → MatMul(basis) when k > 0)

Fitting: SVD first, then STAGES binary stages trained one after another on what is left (binary_ae.py), each
against the whole reconstruction with the direction-aware loss, tokens weighted by (count + 1)^FREQUENCY_POWER
from general-text statistics (token_stats.py). Finally the stacked decoder is refitted by weighted least squares
to the hard codes, which is what is stored.
"""

from __future__ import annotations

import torch

from ..config import EmbeddingConfig
from .base import CompressedEmbedding, EmbeddingMethod, RatioOutOfReach
from .binary_ae import fit_decoder, train_stage
from .bits import Int8Matrix, lookup, pack_bits, sign_lut
from .svd import truncated_svd
from .token_stats import TokenStats

RANK = 0
STAGES = 2
EPOCHS = 30  # per stage, at most (binary_ae.py stops a stage once its bits saturate)
FREQUENCY_POWER = 0.5
LUT_BYTES = 256 * 8 * 4


class LightTokenCodes(CompressedEmbedding):
    def __init__(self, codes: torch.Tensor, decoder: torch.Tensor, bias: torch.Tensor,
                 factors: torch.Tensor, basis: torch.Tensor) -> None:  # fmt: skip
        super().__init__(codes.shape[0], decoder.shape[1])
        self.register_buffer("codes", codes)  # uint8 [vocab, bits/8]
        self.register_buffer("lut", sign_lut())  # fp32 [256, 8]
        self.decoder = Int8Matrix(decoder)  # int8 [bits, dim] + fp32 [dim]
        self.register_buffer("bias", bias)  # fp32 [dim]
        self.rank = basis.shape[0]
        if self.rank:
            self.register_buffer("factors", factors)  # fp16 [vocab, k]
            self.register_buffer("basis", basis)  # fp32 [k, dim]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = torch.matmul(lookup(self.codes, self.lut, input_ids), self.decoder()) + self.bias
        if self.rank:
            x = x + torch.matmul(self.factors[input_ids].float(), self.basis)
        return x

    def describe(self) -> dict[str, int]:
        return {"rank": self.rank, "bits": self.codes.shape[1] * 8}


def stored_bytes(vocab: int, dim: int, rank: int) -> tuple[int, int]:
    """(bytes stored whatever the bits, bytes added per 8 code bits)."""
    fixed = LUT_BYTES + 4 * dim * 2 + rank * (2 * vocab + 4 * dim)  # LUT, bias, decoder scales, SVD part
    per_byte_of_code = vocab + 8 * dim  # 8 more bits: a code byte per token and 8 int8 decoder rows
    return fixed, per_byte_of_code


def bits_for_ratio(vocab: int, dim: int, rank: int, ratio: float) -> int:
    """Total code bits (a multiple of 8) whose stored bytes come closest to fp32_bytes / ratio."""
    fixed, per_byte_of_code = stored_bytes(vocab, dim, rank)
    return 8 * round((vocab * dim * 4 / ratio - fixed) / per_byte_of_code)


def split_bits(bits: int, stages: int) -> list[int]:
    per_stage = [bits // stages // 8 * 8] * stages
    per_stage[-1] += bits - sum(per_stage)
    return [b for b in per_stage if b > 0]


class LightTokenEmbedding(EmbeddingMethod):
    name = "lighttoken"
    summary = "SVD + residual binary codes trained with a direction-aware loss (25-100x)"
    default_ratio = 25.0

    def fit(self, table: torch.Tensor, config: EmbeddingConfig, stats: TokenStats | None = None) -> LightTokenCodes:
        vocab, dim = table.shape
        bits = bits_for_ratio(vocab, dim, RANK, config.ratio)
        if bits < 8:
            fewest = sum(stored_bytes(vocab, dim, RANK))  # 8 code bits
            raise RatioOutOfReach(self.name, config.ratio, (vocab, dim), (1.0, vocab * dim * 4 / fewest))
        table = table.float()
        generator = torch.Generator().manual_seed(config.seed)
        counts = stats.counts if stats is not None else torch.zeros(vocab, dtype=torch.float64)
        weight = ((counts + 1) ** FREQUENCY_POWER).float()
        factors, basis = truncated_svd(table, RANK) if RANK else (torch.zeros(vocab, 0), torch.zeros(0, dim))
        factors = factors.half()
        low_rank = factors.float() @ basis
        codes, reconstruction = [], low_rank
        for stage_bits in split_bits(bits, STAGES):
            codes.append(train_stage(table, reconstruction, stage_bits, weight, EPOCHS, generator))
            all_codes = torch.cat(codes, 1)
            decoder, bias = fit_decoder(all_codes, table - low_rank, weight)
            reconstruction = low_rank + all_codes @ decoder + bias
        return LightTokenCodes(pack_bits(all_codes > 0), decoder, bias, factors, basis)
