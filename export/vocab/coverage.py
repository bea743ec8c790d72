"""How a pruned tokenizer treats text it was not pruned on: the share of texts whose pieces are unchanged, the
share of words split differently, and the [UNK] rate before and after."""

from __future__ import annotations

from typing import Any

from .base import plain_backend


def coverage(original, pruned, texts: list[str]) -> dict[str, Any] | None:
    """None when there is no text to measure on."""
    if not texts:
        return None
    before = plain_backend(original).encode_batch(texts, add_special_tokens=False)
    after = plain_backend(pruned).encode_batch(texts, add_special_tokens=False)
    unchanged = sum(a.tokens == b.tokens for a, b in zip(before, after, strict=True))
    words = changed_words = 0
    for a, b in zip(before, after, strict=True):
        split_a, split_b = _words(a), _words(b)
        words += len(split_a)
        changed_words += sum(split_a[w] != split_b.get(w) for w in split_a)
    return {
        "texts": len(texts),
        "texts_unchanged": unchanged / len(texts),
        "words": words,
        "words_split_differently": changed_words / max(words, 1),
        "unk_rate_original": _unk_rate(before, original.unk_token_id),
        "unk_rate_pruned": _unk_rate(after, pruned.unk_token_id),
    }


def _words(encoding) -> dict[int, list[str]]:
    # both tokenizers share normalizer and pre-tokenizer, so word indices line up
    pieces: dict[int, list[str]] = {}
    for token, word in zip(encoding.tokens, encoding.word_ids, strict=True):
        if word is not None:
            pieces.setdefault(word, []).append(token)
    return pieces


def _unk_rate(encodings, unk_id: int | None) -> float:
    tokens = sum(len(e.ids) for e in encodings)
    unknown = sum(e.ids.count(unk_id) for e in encodings) if unk_id is not None else 0
    return unknown / max(tokens, 1)
