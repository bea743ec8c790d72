"""Texts (or text pairs) → model inputs with the bundle's own tokenizer.json (the `tokenizers` library, no
transformers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer

from .manifest import BundleError, Manifest

Item = str | tuple[str, str]  # one model input: a text, or a (text, text_pair) for pair bundles


def as_texts(texts: str | Sequence[str]) -> tuple[list[str], bool]:
    """(the texts as a list, whether a single string was given). Anything but strings is refused by position."""
    if isinstance(texts, str):
        check_unicode([texts])
        return [texts], True
    if isinstance(texts, bytes) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a str or a list of str, not {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is a {type(text).__name__}, not a str")
    check_unicode(texts)
    return list(texts), False


def check_unicode(texts: Sequence[str]) -> None:
    """ValueError naming the first text the tokenizer cannot read: one with a lone surrogate, which is what Python
    makes of bytes that are not UTF-8 (in a command line, say)."""
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"text {i + 1} is not valid UTF-8 ({text[:40]!r})") from None


def is_pair(item: object) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, str) for t in item)


def as_pairs(pairs: tuple[str, str] | Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
    """(the pairs as a list of tuples, whether a single pair was given: a tuple; a list is many, so two texts in a
    list are refused rather than read as one pair); anything else is refused by position."""
    if isinstance(pairs, tuple) and is_pair(pairs):
        check_unicode(pairs)
        return [pairs], True
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"pairs must be a (text, text_pair) tuple or a list of them, not {type(pairs).__name__}")
    for i, pair in enumerate(pairs):
        if not is_pair(pair):
            raise TypeError(f"pairs[{i}] is not a (text, text_pair) tuple of two str")
        try:
            check_unicode(pair)
        except ValueError as err:
            raise ValueError(f"pair {i + 1}: {err}") from None
    return [tuple(p) for p in pairs], False


class TextEncoder:
    """Tokenizes like the exporter did: special tokens added, truncated to the bundle's max length (a pair by
    the tokenizer's longest-first rule), a batch padded to its longest item with the bundle's pad id."""

    def __init__(self, manifest: Manifest) -> None:
        path = manifest.folder / manifest.tokenizer_file
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # the tokenizers library raises a bare Exception on a bad file
            raise BundleError(f"cannot load the tokenizer {path}: {err}") from None
        # tokenizer.json may carry its own padding/truncation settings (all-MiniLM-L6-v2's pads to 128): replace
        # them with the bundle's.
        tokenizer.no_padding()
        specials = tokenizer.post_processor.num_special_tokens_to_add(True) if tokenizer.post_processor else 0
        if manifest.takes_pairs and manifest.max_length < specials + 2:  # else truncation leaves a text no token
            raise BundleError(f"max_length {manifest.max_length} leaves a pair model no room for text (its "
                              f"{specials} special tokens and a token of each text need {specials + 2})")  # fmt: skip
        tokenizer.enable_truncation(manifest.max_length)
        self.tokenizer = tokenizer
        self.path = path
        self.input_names = manifest.input_names
        self.pad_id = manifest.pad_id

    def token_ids(self, items: Sequence[Item]) -> list[list[int]]:
        return [ids for ids, _ in self.tokens(items)]

    def tokens(self, items: Sequence[Item]) -> list[tuple[list[int], list[int]]]:
        """Each item's token ids and token types."""
        return [(e.ids, e.type_ids) for e in self._encode(items)]

    def inputs(self, items: Sequence[Item]) -> dict[str, np.ndarray]:
        """A padded int64 batch, keyed by the model's input names."""
        encodings = self._encode(items)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(items), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(items), width), dtype=np.int64)
        types = np.zeros((len(items), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        columns = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: columns[name] for name in self.input_names}

    def _encode(self, items: Sequence[Item]) -> list:
        try:
            return self.tokenizer.encode_batch(list(items))
        except Exception as err:  # a tokenizer.json that loads and cannot encode (a WordLevel one without [UNK])
            raise BundleError(f"the tokenizer {self.path} cannot encode the text: {err}") from None
