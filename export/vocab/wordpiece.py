"""WordPiece (BERT, DistilBERT, ELECTRA): `vocab` maps piece → id; an unseen word is spelt from single characters
(`c` to start a word, `##c` inside one), so those are the fallback."""

from __future__ import annotations

from .base import Json, VocabModel


class WordPieceVocab(VocabModel):
    name = "WordPiece"

    def pieces(self, model: Json) -> list[str]:
        return [piece for piece, _ in sorted(model["vocab"].items(), key=lambda item: item[1])]

    def fallback(self, model: Json) -> set[int]:
        prefix = model["continuing_subword_prefix"]
        return {
            i for piece, i in model["vocab"].items()
            if len(piece) == 1 or (piece.startswith(prefix) and len(piece) == len(prefix) + 1)
        }  # fmt: skip

    def rewritten(self, model: Json, kept: list[int]) -> Json:
        pieces = self.pieces(model)
        return {**model, "vocab": {pieces[old]: new for new, old in enumerate(kept)}}
