"""`lighttoken`: residual binary codes per token and one shared linear decoder (after LightToken, Wang et al., 2023).

Stored per token: b bits and a one-byte slot; shared: one int8 [b, dim] decoder (per-column fp32 scales), an fp32
bias, the uint8 [256, 8] lookup table that unpacks the bits (±1 as 0 and 2), and the frequent rows: for the k
tokens that occur most in text (the special tokens among them; k ≤ 255, as `frequent_share` of the budget pays
for), the difference between the true row and the decoded one, as int8 [1 + k, dim] (slot 0, every other token's,
is zero). Those tokens make up about half of what a model reads, so they come out exact to int8 precision: a
prediction then moves less with the particular codes a fit happens to find. Decode per looked-up token, standard
ops only:
    Gather(codes) → Cast → Gather(LUT) → Reshape → MatMulInteger(·, decoder, zero point 1) → Cast → Mul(scales)
    → Add(bias) + DequantizeLinear(Gather(frequent, Cast(Gather(slots))))
Integer products and row-wise dequantization, so a call costs an int8 MatMul of its own tokens, not a dequantized
copy of the decoder or of the frequent rows (a DequantizeLinear → MatMul decoder became ORT's MatMulNBits in the
`.ort` conversion, a slow kernel on x86: docs/encoder.md).

Fitting (binary_codes.py): `stages` residual stages start the codes, then codes and decoder are refined together by
alternating exact minimisation of the squared error, tokens weighted by (count + 1)^frequency_power from
general-text statistics (token_stats.py). The seed draws the rotation the codes start from; for a given seed the
fit is deterministic and gives the same codes on any CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import UserInputError
from .base import CompressedEmbedding, EmbeddingMethod, RatioOutOfReach
from .binary_codes import initial_codes, refine
from .bits import Int8Matrix, dequantize, lookup, pack_bits, shifted_sign_lut, sign_product
from .token_stats import TokenStats

MAX_FREQUENT_ROWS = 255  # as many as a uint8 slot can name (slot 0: none)
MAX_STAGES = 64  # each stage holds at least a byte of code bits; more leave stages empty
MAX_ROUNDS = 100  # the fit settles in under 12 on every table measured
MAX_FREQUENCY_POWER = 2.0  # counts reach 1e6: (count + 1)^2 already spans 12 orders of weight
LUT_BYTES = 256 * 8


class LightTokenCodes(CompressedEmbedding):
    def __init__(self, codes: torch.Tensor, decoder: torch.Tensor, bias: torch.Tensor,
                 frequent: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:  # fmt: skip
        super().__init__(codes.shape[0], decoder.shape[1])
        self.register_buffer("codes", codes)  # uint8 [vocab, bits/8]
        self.register_buffer("lut", shifted_sign_lut())  # uint8 [256, 8]: ±1 + 1
        self.decoder = Int8Matrix(decoder)  # int8 [bits, dim] + fp32 [dim]
        self.register_buffer("bias", bias)  # fp32 [dim]
        self.frequent_rows = 0
        if frequent is not None:
            slots, rows = frequent
            self.register_buffer("slots", slots)  # uint8 [vocab]: 0, or the token's row in `frequent`
            self.frequent = Int8Matrix(rows)  # int8 [1 + frequent rows, dim] + fp32 [dim]; row 0 is zero
            self.frequent_rows = rows.shape[0] - 1

    def decode_codes(self, input_ids: torch.Tensor) -> torch.Tensor:
        return sign_product(lookup(self.codes, self.lut, input_ids), self.decoder.q, self.decoder.scale) + self.bias

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        decoded = self.decode_codes(input_ids)
        if not self.frequent_rows:
            return decoded
        return decoded + dequantize(self.frequent.q[self.slots[input_ids].long()], self.frequent.scale)

    def describe(self) -> dict[str, int]:
        return {"bits": self.codes.shape[1] * 8, "frequent_rows": self.frequent_rows}


def frequent_bytes(vocab: int, dim: int, rows: int) -> int:
    """Slots, int8 rows (and the zero row) and their per-column scales; nothing when there are none."""
    return vocab + (1 + rows) * dim + 4 * dim if rows else 0


def frequent_row_count(vocab: int, dim: int, ratio: float, budget_share: float, most: int) -> int:
    """As many frequent rows as `budget_share` of the budget pays for, up to `most`; none when that is under 16
    (a small table or a high ratio: the slots alone would cost more than the rows give)."""
    share = vocab * dim * 4 / ratio * budget_share
    rows = min(most, vocab, int((share - vocab - 4 * dim) // dim) - 1)
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


def most_bits(vocab: int) -> int:
    """The most code bits (a multiple of 8) a decoder and bias can be fitted to: fewer than the rows, or the least
    squares have no single solution."""
    return (vocab - 1) // 8 * 8


def reachable_ratios(vocab: int, dim: int) -> tuple[float, ...]:
    """(lowest, highest) ratio: the most code bits, at most fp32's bytes; 8 code bits (no frequent rows either).
    Empty for 8 rows or fewer, which no code bits can be fitted to."""
    if most_bits(vocab) < 8:
        return ()
    fixed, per_byte_of_code = stored_bytes(vocab, dim, 0)
    fp32 = vocab * dim * 4
    return max(1.0, fp32 / (fixed + per_byte_of_code * most_bits(vocab) // 8)), fp32 / (fixed + per_byte_of_code)


def split_bits(bits: int, stages: int) -> list[int]:
    per_stage = [bits // stages // 8 * 8] * stages
    per_stage[-1] += bits - sum(per_stage)
    return [b for b in per_stage if b > 0]


def frequent_rows(
    decoded: LightTokenCodes, table: torch.Tensor, counts: torch.Tensor, rows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(slots, rows) that make the `rows` tokens of the highest `counts` (occurrences; without statistics, the
    decode's squared error) exact (to int8): each gets a slot and the difference between its true row and the row
    `decoded` gives it. Ties in the counts go to the lower id."""
    top = torch.argsort(counts, descending=True, stable=True)[:rows]
    frequent = torch.zeros(1 + rows, table.shape[1])
    with torch.no_grad():
        frequent[1:] = table[top] - decoded.decode_codes(top)
    slots = torch.zeros(table.shape[0], dtype=torch.uint8)
    slots[top] = torch.arange(1, rows + 1, dtype=torch.uint8)
    return slots, frequent


@dataclass(frozen=True)
class LightToken(EmbeddingMethod):
    name = "lighttoken"
    stochastic = True  # the seed draws the rotation the codes start from
    summary = "residual binary codes with one shared decoder, frequent tokens exact (25-100x)"

    ratio: float = 25.0
    stages: int = 2  # residual stages the start's code bits are split into
    frequency_power: float = 0.5  # tokens weighted by (count + 1)^power in the fit
    frequent_share: float = 1 / 8  # of the byte budget, at most, for the frequent rows and their slots
    frequent_rows: int = MAX_FREQUENT_ROWS  # at most; 0: none
    rounds: int = 12  # at most; each round refits the decoder and passes once over every bit

    def check(self) -> None:
        super().check()
        if not 0 <= self.frequent_rows <= MAX_FREQUENT_ROWS:
            raise UserInputError(f"lighttoken frequent_rows must be 0 to {MAX_FREQUENT_ROWS} (a uint8 slot each)")
        # beyond these a fit runs out of memory (a list of stages), time (rounds) or float range (the weights)
        if not (1 <= self.stages <= MAX_STAGES and 0 <= self.rounds <= MAX_ROUNDS and 0 <= self.frequent_share < 1):
            raise UserInputError(f"lighttoken needs 1 <= stages <= {MAX_STAGES}, 0 <= rounds <= {MAX_ROUNDS} and "
                                 f"0 <= frequent_share < 1 (got {self.stages}, {self.rounds}, {self.frequent_share})")
        if not 0 <= self.frequency_power <= MAX_FREQUENCY_POWER:
            raise UserInputError(f"lighttoken frequency_power must be from 0 (every token alike) to "
                                 f"{MAX_FREQUENCY_POWER:g} (got {self.frequency_power})")  # fmt: skip

    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> LightTokenCodes:
        vocab, dim = table.shape
        rows = frequent_row_count(vocab, dim, self.ratio, self.frequent_share, self.frequent_rows)
        bits = bits_for_ratio(vocab, dim, self.ratio, rows)
        if not 8 <= bits <= most_bits(vocab) or self.ratio < 1:
            raise RatioOutOfReach(self.name, self.ratio, (vocab, dim), reachable_ratios(vocab, dim))
        table = table.float()
        counts = stats.counts if stats is not None else torch.zeros(vocab, dtype=torch.float64)
        weight = (counts + 1) ** self.frequency_power
        start = initial_codes(table, split_bits(bits, self.stages), weight, seed)
        codes, decoder, bias = refine(start, table, weight, self.rounds)
        packed, decoder, bias = pack_bits(codes > 0), decoder.float(), bias.float()
        if not rows:
            return LightTokenCodes(packed, decoder, bias)
        decoded = LightTokenCodes(packed, decoder, bias)
        if stats is None:  # no counts to rank by: the rows the codes reproduce worst get the exact slots
            with torch.no_grad():
                counts = (table - decoded.decode_codes(torch.arange(vocab))).square().sum(dim=1).double()
        return LightTokenCodes(packed, decoder, bias, frequent_rows(decoded, table, counts, rows))
