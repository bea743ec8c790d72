"""`lighttoken`: residual binary codes per token and one shared linear decoder (after LightToken, Wang et al., 2023).

Stored per token: b bits and a one-byte slot; shared: one int8 [b, dim] decoder (per-column fp32 scales), an fp32
bias, the [256, 8] ±1 lookup table that unpacks the bits, and the frequent rows: for the k tokens that occur most
in text (the special tokens among them; k ≤ 255, as FREQUENT_SHARE of the budget pays for), the difference between
the true row and the decoded one, as int8 [1 + k, dim] (slot 0, every other token's, is zero). Those tokens make up
about half of what a model reads, so they come out exact to int8 precision: a prediction then moves less with the
particular codes a fit happens to find. Decode per looked-up token, standard ops only:
    Gather(codes) → Cast → Gather(LUT) → Reshape → MatMul(DequantizeLinear(decoder)) → Add(bias)
    + Gather(DequantizeLinear(frequent), Cast(Gather(slots)))

Fitting (binary_codes.py): STAGES residual stages start the codes, then codes and decoder are refined together by
alternating exact minimisation of the squared error, tokens weighted by (count + 1)^FREQUENCY_POWER from
general-text statistics (token_stats.py). The seed draws the rotation the codes start from; for a given seed the
fit is deterministic and gives the same codes on any CPU.
"""

from __future__ import annotations

import torch

from ..config import EmbeddingConfig
from .base import CompressedEmbedding, EmbeddingMethod, RatioOutOfReach
from .binary_codes import initial_codes, refine
from .bits import Int8Matrix, lookup, pack_bits, sign_lut
from .token_stats import TokenStats

STAGES = 2
FREQUENCY_POWER = 0.5
MAX_FREQUENT_ROWS = 255  # as many as a uint8 slot can name (slot 0: none)
FREQUENT_SHARE = 1 / 8  # of the byte budget, at most, for the frequent rows and their slots
LUT_BYTES = 256 * 8 * 4


class LightTokenCodes(CompressedEmbedding):
    def __init__(self, codes: torch.Tensor, decoder: torch.Tensor, bias: torch.Tensor,
                 frequent: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:  # fmt: skip
        super().__init__(codes.shape[0], decoder.shape[1])
        self.register_buffer("codes", codes)  # uint8 [vocab, bits/8]
        self.register_buffer("lut", sign_lut())  # fp32 [256, 8]
        self.decoder = Int8Matrix(decoder)  # int8 [bits, dim] + fp32 [dim]
        self.register_buffer("bias", bias)  # fp32 [dim]
        self.frequent_rows = 0
        if frequent is not None:
            slots, rows = frequent
            self.register_buffer("slots", slots)  # uint8 [vocab]: 0, or the token's row in `frequent`
            self.frequent = Int8Matrix(rows)  # int8 [1 + frequent rows, dim] + fp32 [dim]; row 0 is zero
            self.frequent_rows = rows.shape[0] - 1

    def decode_codes(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.matmul(lookup(self.codes, self.lut, input_ids), self.decoder()) + self.bias

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        decoded = self.decode_codes(input_ids)
        if not self.frequent_rows:
            return decoded
        return decoded + self.frequent()[self.slots[input_ids].long()]

    def describe(self) -> dict[str, int]:
        return {"bits": self.codes.shape[1] * 8, "frequent_rows": self.frequent_rows}


def frequent_bytes(vocab: int, dim: int, rows: int) -> int:
    """Slots, int8 rows (and the zero row) and their per-column scales; nothing when there are none."""
    return vocab + (1 + rows) * dim + 4 * dim if rows else 0


def frequent_row_count(vocab: int, dim: int, ratio: float) -> int:
    """As many frequent rows as FREQUENT_SHARE of the budget pays for, up to MAX_FREQUENT_ROWS; none when that is
    under 16 (a small table or a high ratio: the slots alone would cost more than the rows give)."""
    share = vocab * dim * 4 / ratio * FREQUENT_SHARE
    rows = min(MAX_FREQUENT_ROWS, vocab, int((share - vocab - 4 * dim) // dim) - 1)
    return rows if rows >= 16 else 0


def stored_bytes(vocab: int, dim: int, frequent_rows: int) -> tuple[int, int]:
    """(bytes stored whatever the bits, bytes added per 8 code bits)."""
    fixed = LUT_BYTES + 4 * dim * 2 + frequent_bytes(vocab, dim, frequent_rows)  # + bias, decoder scales
    per_byte_of_code = vocab + 8 * dim  # 8 more bits: a code byte per token and 8 int8 decoder rows
    return fixed, per_byte_of_code


def bits_for_ratio(vocab: int, dim: int, ratio: float, frequent_rows: int) -> int:
    """Total code bits (a multiple of 8) whose stored bytes come closest to fp32_bytes / ratio."""
    fixed, per_byte_of_code = stored_bytes(vocab, dim, frequent_rows)
    return 8 * round((vocab * dim * 4 / ratio - fixed) / per_byte_of_code)


def split_bits(bits: int, stages: int) -> list[int]:
    per_stage = [bits // stages // 8 * 8] * stages
    per_stage[-1] += bits - sum(per_stage)
    return [b for b in per_stage if b > 0]


def frequent_rows(
    decoded: LightTokenCodes, table: torch.Tensor, counts: torch.Tensor, rows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(slots, rows) that make the `rows` most frequent tokens exact (to int8): each gets a slot and the difference
    between its true row and the row `decoded` gives it. Ties in the counts go to the lower id."""
    top = torch.argsort(counts, descending=True, stable=True)[:rows]
    frequent = torch.zeros(1 + rows, table.shape[1])
    with torch.no_grad():
        frequent[1:] = table[top] - decoded.decode_codes(top)
    slots = torch.zeros(table.shape[0], dtype=torch.uint8)
    slots[top] = torch.arange(1, rows + 1, dtype=torch.uint8)
    return slots, frequent


class LightTokenEmbedding(EmbeddingMethod):
    name = "lighttoken"
    stochastic = True  # the seed draws the rotation the codes start from
    summary = "residual binary codes with one shared decoder, frequent tokens exact (25-100x)"
    default_ratio = 25.0

    def fit(self, table: torch.Tensor, config: EmbeddingConfig, stats: TokenStats | None = None) -> LightTokenCodes:
        vocab, dim = table.shape
        rows = frequent_row_count(vocab, dim, config.ratio)
        bits = bits_for_ratio(vocab, dim, config.ratio, rows)
        if bits < 8:
            fewest = sum(stored_bytes(vocab, dim, 0))  # 8 code bits
            raise RatioOutOfReach(self.name, config.ratio, (vocab, dim), (1.0, vocab * dim * 4 / fewest))
        table = table.float()
        counts = stats.counts if stats is not None else torch.zeros(vocab, dtype=torch.float64)
        weight = (counts + 1) ** FREQUENCY_POWER
        start = initial_codes(table, split_bits(bits, STAGES), weight, config.seed)
        codes, decoder, bias = refine(start, table, weight)
        packed, decoder, bias = pack_bits(codes > 0), decoder.float(), bias.float()
        if not rows:
            return LightTokenCodes(packed, decoder, bias)
        decoded = LightTokenCodes(packed, decoder, bias)
        return LightTokenCodes(packed, decoder, bias, frequent_rows(decoded, table, counts, rows))
