"""WordPiece (BERT, DistilBERT, ELECTRA): `vocab` maps piece → id; an unseen word is spelt from single characters
(`c` to start a word, `##c` inside one), so those are the fallback."""

from __future__ import annotations

from .base import Json, VocabModel


class WordPieceVocab(VocabModel):
    name = "WordPiece"

    def fallback(self, model: Json) -> set[int]:
        prefix = model["continuing_subword_prefix"]
        return {
            i for piece, i in model["vocab"].items()
            if len(piece) == 1 or (piece.startswith(prefix) and len(piece) == len(prefix) + 1)
        }  # fmt: skip

    def rewritten(self, model: Json, kept: list[int]) -> Json:
        piece_of = self.piece_of(model)
        return {**model, "vocab": {piece_of[old]: new for new, old in enumerate(kept)}}
