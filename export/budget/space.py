"""The settings the search explores, and the order it explores them in.

A candidate is a token-table method at a ratio, an encoder method, and whether --vocab and --distill apply (when
the user gave them). The default space is small on purpose, every point of it measured on MiniLM-L6 (README.md,
docs/encoder.md, docs/vocab.md): lighttoken at 25x, 50x and 100x, or the table int8 with every row; an int8 or
a 4-bit encoder (int4-as-int8: 4-bit in the file, decoded once at load into int8 weights, so int8's speed).
Candidates are visited smallest first (by the bytes they will store, estimated from the checkpoint's shapes), so
the first one within budget is the smallest, and a rejected candidate rules out every candidate that compresses at
least as hard in every setting (`harder_than`)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

from ..embedding import EmbeddingMethod, Int8, LightToken
from ..encoder import EncoderMethod, Int4AsInt8, Int4Encoder, Int8Encoder

INT4_BITS_PER_WEIGHT = 4.5  # 4-bit codes and an fp32 scale per block of 128 weights, before fp32 biases


@dataclass(frozen=True)
class Candidate:
    embedding: EmbeddingMethod
    encoder: EncoderMethod
    vocab: bool = False
    distill: bool = False

    @property
    def key(self) -> str:
        """A stable name: the on-disk store and the report use it."""
        ratio, encoder_ratio = getattr(self.embedding, "ratio", None), getattr(self.encoder, "ratio", None)
        parts = [self.embedding.name + (f"@{ratio:g}" if ratio else ""),
                 f"encoder:{self.encoder.name}" + (f"@{encoder_ratio:g}" if encoder_ratio else "")]  # fmt: skip
        return " ".join(parts + ["vocab"] * self.vocab + ["distill"] * self.distill)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "embedding": self.embedding.to_json(), "encoder": self.encoder.to_json(),
                "vocab": self.vocab, "distill": self.distill}  # fmt: skip

    def harder_than(self, other: Candidate) -> bool:
        """Does this candidate compress at least as hard as `other` in every setting (same vocab and distill)?
        If `other` missed the budget, this one will too."""
        if (self.vocab, self.distill) != (other.vocab, other.distill):
            return False
        if min(_encoder_rank(self.encoder), _encoder_rank(other.encoder)) < 0 or not _table_rank(other.embedding):
            return False
        table = _table_rank(self.embedding) >= _table_rank(other.embedding)
        return table and _encoder_rank(self.encoder) >= _encoder_rank(other.encoder)


def default_space(vocab: bool, distill: bool) -> list[Candidate]:
    """The candidates for a search. The 4-bit encoder is int4-as-int8 on every target: the same file size as
    MatMulNBits' int4, at int8's speed (on `onnx-mobile` its decode ships as weights.ort, run once at load)."""
    tables: list[EmbeddingMethod] = [Int8(), LightToken(ratio=25), LightToken(ratio=50), LightToken(ratio=100)]
    encoders: list[EncoderMethod] = [Int8Encoder(), Int4AsInt8()]
    return [
        Candidate(table, encoder, use_vocab, use_distill)
        for table, encoder, use_vocab, use_distill in product(tables, encoders, _both(vocab), _both(distill))
    ]


def estimated_bytes(candidate: Candidate, table_values: int, encoder_weights: int, kept_share: float) -> float:
    """What the candidate will store for the token table and the encoder's linear weights: enough to order them
    (the rest of the model is the same for all). `kept_share`: what an int8 table stores with --vocab, as a share
    of the whole (the rows it keeps, and with --vocab-rest the others' codes)."""
    ratio = getattr(candidate.embedding, "ratio", None)
    table = 4 * table_values / ratio if ratio else table_values * (kept_share if candidate.vocab else 1.0)
    bits = INT4_BITS_PER_WEIGHT if isinstance(candidate.encoder, Int4Encoder) else 8
    return table + encoder_weights * bits / 8


def _both(flag: bool) -> list[bool]:
    return [False, True] if flag else [False]


def _table_rank(method: EmbeddingMethod) -> float:
    if isinstance(method, Int8):
        return 4.0  # an int8 table is 4x its fp32 bytes
    return getattr(method, "ratio", None) or 0.0  # methods compared by ratio; an unsized one ranks lowest


def _encoder_rank(method: EncoderMethod) -> int:
    # int8 < int4 (either form); other methods are not ordered against these, so nothing is skipped on their account
    return {Int8Encoder: 0, Int4Encoder: 1, Int4AsInt8: 1}.get(type(method), -1)
