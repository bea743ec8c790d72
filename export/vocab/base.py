"""What a tokenizer model (WordPiece, BPE, Unigram) must say to be pruned: its pieces by id, the fallback alphabet
that keeps every text tokenizable, the pieces a kept piece is built from, and its tokenizer.json `model` section
rewritten for the kept ids. The rest of tokenizer.json (specials, post-processor, padding) is remapped here, the
same for every model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

Json = dict[str, Any]


class VocabModel(ABC):
    name: ClassVar[str]  # tokenizer.json's model "type"

    def piece_of(self, model: Json) -> dict[int, str]:
        """Each of the model's own ids (not the added tokens outside it) → its piece, from `vocab` as WordPiece and
        BPE write it (piece → id). Not always 0..n-1: a vocab.txt with a line twice leaves a gap where the first
        copy was (the later one takes the string)."""
        return {i: piece for piece, i in model["vocab"].items()}

    @abstractmethod
    def fallback(self, model: Json) -> set[int]:
        """Ids to keep whatever the domain: enough to spell any text the original tokenizer spelt without [UNK]."""

    def by_commonness(self, model: Json) -> list[int]:
        """The model's ids, the most common in its training text first. By default id order: WordPiece and BPE
        trainers number pieces in the order they admit them, by frequency (BERT's vocab.txt goes on from its
        characters with "the of and in to")."""
        return sorted(self.piece_of(model))

    def parts_of(self, model: Json, kept: set[int]) -> set[int]:
        """`kept` with every piece a kept piece is built from (BPE's merges); by default nothing to add."""
        return kept

    @abstractmethod
    def rewritten(self, model: Json, kept: list[int]) -> Json:
        """The `model` section with only `kept` (old ids, ascending), renumbered 0..len(kept)-1 in that order."""


def is_byte_piece(piece: str) -> bool:
    """`<0x00>`..`<0xFF>`: the pieces a byte-fallback model spells an unknown character with."""
    return len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">")


def plain_backend(tokenizer):
    """A copy of a transformers tokenizer's backend with padding and truncation off (transformers leaves those of
    its last call switched on), for counting and comparing tokens."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    return backend


def remap_tokenizer_json(tokenizer: Json, new_model: Json, new_id: dict[int, int]) -> Json:
    """tokenizer.json with `new_model` and every id outside it (added tokens, post-processor, padding) renumbered."""
    rewritten = {**tokenizer, "model": new_model}
    rewritten["added_tokens"] = [{**token, "id": new_id[token["id"]]} for token in tokenizer["added_tokens"]]
    rewritten["post_processor"] = _remapped_processor(tokenizer.get("post_processor"), new_id)
    if tokenizer.get("padding"):
        rewritten["padding"] = {**tokenizer["padding"], "pad_id": new_id[tokenizer["padding"]["pad_id"]]}
    return rewritten


def processor_ids(processor: Json | None) -> set[int]:
    """The token ids a post-processor inserts."""
    if processor is None:
        return set()
    kind = processor["type"]
    if kind == "Sequence":
        return set().union(*(processor_ids(p) for p in processor["processors"]))
    if kind in ("BertProcessing", "RobertaProcessing"):
        return {processor[key][1] for key in ("sep", "cls")}
    if kind == "TemplateProcessing":
        return {i for special in processor["special_tokens"].values() for i in special["ids"]}
    return set()


def _remapped_processor(processor: Json | None, new_id: dict[int, int]) -> Json | None:
    if processor is None:
        return None
    kind = processor["type"]
    if kind == "Sequence":
        return {**processor, "processors": [_remapped_processor(p, new_id) for p in processor["processors"]]}
    if kind in ("BertProcessing", "RobertaProcessing"):  # "sep": [token, id], "cls": [token, id]
        return {**processor, **{key: [processor[key][0], new_id[processor[key][1]]] for key in ("sep", "cls")}}
    if kind == "TemplateProcessing":
        specials = {
            name: {**special, "ids": [new_id[i] for i in special["ids"]]}
            for name, special in processor["special_tokens"].items()
        }
        return {**processor, "special_tokens": specials}
    return processor  # ByteLevel and others carry no ids
