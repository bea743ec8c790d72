"""How a pruned tokenizer treats text it was not pruned on: the share of texts whose pieces are unchanged, the
share of words split differently, and the [UNK] rate before and after (the share of words with an [UNK] piece: per
word, since the pruned tokenizer spells unseen words in more pieces, and a rate per token would fall with the
same [UNK]s)."""

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
    words = changed_words = unknown_before = unknown_after = 0
    for a, b in zip(before, after, strict=True):
        split_a, split_b = _words(a), _words(b)
        words += len(split_a)
        changed_words += sum(split_a[w] != split_b.get(w) for w in split_a)
        unknown_before += _words_with(split_a, original.unk_token)
        unknown_after += _words_with(split_b, pruned.unk_token)
    return {
        "texts": len(texts),
        "texts_unchanged": unchanged / len(texts),
        "words": words,
        "words_split_differently": changed_words / max(words, 1),
        "unk_rate_original": unknown_before / max(words, 1),
        "unk_rate_pruned": unknown_after / max(words, 1),
    }


def _words(encoding) -> dict[int, list[str]]:
    # both tokenizers share normalizer and pre-tokenizer, so word indices line up (their ids do not: the pruned
    # tokenizer renumbers them, so words are compared by their pieces' strings)
    pieces: dict[int, list[str]] = {}
    for token, word in zip(encoding.tokens, encoding.word_ids, strict=True):
        if word is not None:
            pieces.setdefault(word, []).append(token)
    return pieces


def _words_with(words: dict[int, list[str]], unk_token: str | None) -> int:
    """How many of the words (`_words`) hold the [UNK] piece."""
    return 0 if unk_token is None else sum(unk_token in pieces for pieces in words.values())
