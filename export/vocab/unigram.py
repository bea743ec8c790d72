"""Unigram / SentencePiece (XLM-R, DeBERTa-v2): `vocab` is a list of [piece, score] whose index is the id. The
segmentation picks the most likely split over the pieces that exist, so removing pieces a text never used leaves its
split unchanged, and an unseen word still splits into single characters (and `▁`, the word start) when those are
kept: they, and the byte pieces `<0x00>`..`<0xFF>` of a byte-fallback model, are the fallback."""

from __future__ import annotations

from .base import Json, VocabModel, is_byte_piece

WORD_START = "▁"


class UnigramVocab(VocabModel):
    name = "Unigram"

    def piece_of(self, model: Json) -> dict[int, str]:  # `vocab` is a list of [piece, score]: the index is the id
        return {i: piece for i, (piece, _) in enumerate(model["vocab"])}

    def fallback(self, model: Json) -> set[int]:
        kept = {i for i, (piece, _) in enumerate(model["vocab"]) if len(piece) == 1 or piece == WORD_START}
        if model.get("byte_fallback"):
            kept |= {i for i, (piece, _) in enumerate(model["vocab"]) if is_byte_piece(piece)}
        return kept | ({model["unk_id"]} if model.get("unk_id") is not None else set())

    def by_commonness(self, model: Json) -> list[int]:
        """By each piece's log-probability, the most likely first (ties in id order)."""
        return sorted(range(len(model["vocab"])), key=lambda i: -model["vocab"][i][1])

    def rewritten(self, model: Json, kept: list[int]) -> Json:
        new_id = {old: new for new, old in enumerate(kept)}
        unk_id = model.get("unk_id")  # tokenizers allows a Unigram model without one
        return {**model, "vocab": [model["vocab"][old] for old in kept],
                "unk_id": None if unk_id is None else new_id[unk_id]}  # fmt: skip

