"""Texts → model inputs with the bundle's own tokenizer.json (the `tokenizers` library, no transformers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer

from .manifest import BundleError, Manifest


def as_texts(texts: str | Sequence[str]) -> tuple[list[str], bool]:
    """(the texts as a list, whether a single string was given). Anything but strings is refused by position."""
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, bytes) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a str or a list of str, not {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is a {type(text).__name__}, not a str")
    return list(texts), False


class TextEncoder:
    """Tokenizes like the exporter did: special tokens added, truncated to the bundle's max length, a batch
    padded to its longest text with the bundle's pad id."""

    def __init__(self, manifest: Manifest) -> None:
        path = manifest.folder / manifest.tokenizer_file
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # the tokenizers library raises a bare Exception on a bad file
            raise BundleError(f"cannot load the tokenizer {path}: {err}") from None
        # tokenizer.json may carry its own padding/truncation settings (all-MiniLM-L6-v2's pads to 128): replace
        # them with the bundle's.
        tokenizer.no_padding()
        tokenizer.enable_truncation(manifest.max_length)
        self.tokenizer = tokenizer
        self.input_names = manifest.input_names
        self.pad_id = manifest.pad_id

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def inputs(self, texts: list[str]) -> dict[str, np.ndarray]:
        """A padded int64 batch, keyed by the model's input names."""
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        types = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        columns = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: columns[name] for name in self.input_names}
