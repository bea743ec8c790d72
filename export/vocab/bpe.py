"""BPE (RoBERTa's byte-level BPE): `vocab` maps piece → id and `merges` lists the pair merges by priority. Any text
spells from the base alphabet (byte-level: 256 one-character pieces, one per byte), which is the fallback. A kept
piece needs the merges that build it and the pieces they join, down to the alphabet; a merge survives only when both
its halves and its result are kept, so the tokenizer can never produce a piece that is gone."""

from __future__ import annotations

from .base import Json, VocabModel, is_byte_piece


class BpeVocab(VocabModel):
    name = "BPE"

    def fallback(self, model: Json) -> set[int]:
        """One character in each form a word starts from: bare, with the model's continuing-subword prefix (the
        characters inside a word) and end-of-word suffix (its last); and the byte pieces of a byte-fallback
        model."""
        prefix, suffix = model.get("continuing_subword_prefix") or "", model.get("end_of_word_suffix") or ""

        def character(piece: str) -> bool:
            piece = piece[len(prefix) :] if prefix and piece.startswith(prefix) and piece != prefix else piece
            piece = piece[: -len(suffix)] if suffix and piece.endswith(suffix) and piece != suffix else piece
            return len(piece) == 1

        return {i for piece, i in model["vocab"].items()
                if character(piece) or (model.get("byte_fallback") and is_byte_piece(piece))}  # fmt: skip

    def parts_of(self, model: Json, kept: set[int]) -> set[int]:
        vocab = model["vocab"]
        built_from: dict[str, list[tuple[str, str]]] = {}
        for left, right in _pairs(model):
            built_from.setdefault(_joined(model, left, right), []).append((left, right))
        piece_of = self.piece_of(model)
        closed, todo = set(kept), [piece_of[i] for i in kept if i in piece_of]
        while todo:
            for pair in built_from.get(todo.pop(), []):
                for half in pair:
                    if half in vocab and vocab[half] not in closed:
                        closed.add(vocab[half])
                        todo.append(half)
        return closed

    def rewritten(self, model: Json, kept: list[int]) -> Json:
        piece_of = self.piece_of(model)
        vocab = {piece_of[old]: new for new, old in enumerate(kept)}
        merges = [
            merge for merge, (left, right) in zip(model["merges"], _pairs(model), strict=True)
            if left in vocab and right in vocab and _joined(model, left, right) in vocab
        ]  # fmt: skip
        return {**model, "vocab": vocab, "merges": merges}


def _pairs(model: Json) -> list[tuple[str, str]]:
    # tokenizers writes merges as "a b" strings (before 0.20) or as [a, b] lists
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def _joined(model: Json, left: str, right: str) -> str:
    prefix = model.get("continuing_subword_prefix") or ""
    return left + (right[len(prefix) :] if prefix and right.startswith(prefix) else right)
