"""The settings the search explores, and the order it explores them in.

A candidate is a token-table method at a ratio, an encoder method, and whether --vocab and --distill apply (when
the user gave them). The default space is small on purpose, every point of it measured on MiniLM-L6 (README.md,
docs/encoder.md, docs/vocab.md): lighttoken at 25x, 50x and 100x, or the table int8 with every row; an int8 or
a 4-bit encoder (int4-as-int8: 4-bit in the file, decoded once at load into int8 weights, so int8's speed).
Candidates are visited smallest first (by the bytes they will store, estimated from the checkpoint's shapes), so
the first one within budget is the smallest, and a rejected candidate rules out every candidate that compresses at
least as hard in every setting (`harder_than`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import product
from typing import Any

from ..embedding import EmbeddingMethod, Int8, LightToken, NoCompression
from ..encoder import EncoderMethod, FullPrecision, Int4AsInt8, Int4Encoder, Int8Encoder

INT4_BITS_PER_WEIGHT = 4.5  # 4-bit codes and an fp32 scale per block of 128 weights, before fp32 biases


@dataclass(frozen=True)
class Candidate:
    embedding: EmbeddingMethod
    encoder: EncoderMethod
    vocab: bool = False
    distill: bool = False

    @property
    def key(self) -> str:
        """A stable name that tells candidates apart (the on-disk store and the report use it): each method's name,
        its ratio, and any other setting away from its default."""
        parts = [_label(self.embedding), "encoder:" + _label(self.encoder)]
        return " ".join(parts + ["vocab"] * self.vocab + ["distill"] * self.distill)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "embedding": self.embedding.to_json(), "encoder": self.encoder.to_json(),
                "vocab": self.vocab, "distill": self.distill}  # fmt: skip

    def harder_than(self, other: Candidate) -> bool:
        """Does this candidate compress at least as hard as `other` in every setting (same vocab and distill)?
        If `other` missed the budget, this one will too. Ratios compare within one method only (lighttoken at 25x
        is not a harder svd at 8x); the int8 table and the int8 encoder are the least compression of any."""
        if (self.vocab, self.distill) != (other.vocab, other.distill):
            return False
        return _table_at_least(self.embedding, other.embedding) and _encoder_at_least(self.encoder, other.encoder)


def default_space(vocab: bool, distill: bool) -> list[Candidate]:
    """The candidates for a search. The 4-bit encoder is int4-as-int8 on every target: the same file size as
    MatMulNBits' int4, at int8's speed (on `onnx-mobile` its decode ships as weights.ort, run once at load)."""
    tables: list[EmbeddingMethod] = [Int8(), LightToken(ratio=25), LightToken(ratio=50), LightToken(ratio=100)]
    encoders: list[EncoderMethod] = [Int8Encoder(), Int4AsInt8()]
    return [
        Candidate(table, encoder, use_vocab, use_distill)
        for table, encoder, use_vocab, use_distill in product(tables, encoders, _both(vocab), _both(distill))
    ]


def estimated_bytes(
    candidate: Candidate, table_values: int, encoder_weights: int, kept_share: float, rest_ratio: float | None = None
) -> float:
    """What the candidate will store for the token table and the encoder's linear weights: enough to order them
    (the rest of the model is the same for all). `kept_share`: the share of the table's rows --vocab keeps;
    `rest_ratio`: --vocab-rest's, the other rows as codes at that ratio of their fp32 bytes."""
    ratio = getattr(candidate.embedding, "ratio", None)
    if ratio:
        table = 4 * table_values / ratio
    else:
        # the int8 pass quantizes an uncompressed table with the encoder; only the fp32 encoder leaves it fp32
        fp32 = isinstance(candidate.embedding, NoCompression) and isinstance(candidate.encoder, FullPrecision)
        per_value = 4 if fp32 else 1
        share = kept_share if candidate.vocab else 1.0
        rest = (1 - share) * 4 / rest_ratio if candidate.vocab and rest_ratio else 0.0
        table = table_values * (per_value * share + rest)
    return table + encoder_weights * _encoder_bits(candidate.encoder) / 8


def _encoder_bits(method: EncoderMethod) -> float:
    if isinstance(method, FullPrecision):
        return 32
    if isinstance(method, Int4Encoder):
        return INT4_BITS_PER_WEIGHT
    ratio = getattr(method, "ratio", None)  # a factorised encoder keeps 1/ratio of the weights, int8
    return 8 / ratio if ratio else 8


def _both(flag: bool) -> list[bool]:
    return [False, True] if flag else [False]


def _label(method: EmbeddingMethod | EncoderMethod) -> str:
    ratio = getattr(method, "ratio", None)
    changed = [f"{f.name}={getattr(method, f.name)}" for f in fields(method)
               if f.name != "ratio" and getattr(method, f.name) != f.default]  # fmt: skip
    return method.name + (f"@{ratio:g}" if ratio else "") + (f"({','.join(changed)})" if changed else "")


def _ratio(method: Any) -> float:
    return getattr(method, "ratio", None) or 0.0


def _same_method_at_least(method: Any, other: Any) -> bool:
    """The same method with the same settings but its ratio, at a ratio at least `other`'s."""
    mine, theirs = method.to_json(), other.to_json()
    same = type(method) is type(other) and {**mine, "ratio": None} == {**theirs, "ratio": None}
    return same and _ratio(method) >= _ratio(other)


def _table_at_least(method: EmbeddingMethod, other: EmbeddingMethod) -> bool:
    if isinstance(other, Int8):  # int8 stores the table at 4x its fp32 bytes; a sized method past that is harder
        return isinstance(method, Int8) or _ratio(method) >= 4.0
    return _same_method_at_least(method, other)


def _encoder_at_least(method: EncoderMethod, other: EncoderMethod) -> bool:
    if type(other) is Int8Encoder:  # int8 < int4 in either form; other methods are not ordered against these
        return type(method) in (Int8Encoder, Int4Encoder, Int4AsInt8)
    return _same_method_at_least(method, other)
