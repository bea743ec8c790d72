"""--vocab: keep the token rows a deployment domain's text uses, with the tokenizer rewritten to contiguous ids
(dynamic embedding pruning, Williams & Aletras 2023, made safe for unseen text). One file per tokenizer model:
wordpiece.py, bpe.py, unigram.py (registered in prune.py's VOCAB_MODELS)."""

from __future__ import annotations

from .coverage import coverage
from .prune import (
    VOCAB_MODELS,
    KeptIds,
    PrunedTokenizer,
    held_out_split,
    kept_ids,
    prune_tokenizer,
    pruned_table,
    token_counts,
)  # fmt: skip

__all__ = [
    "VOCAB_MODELS", "KeptIds", "PrunedTokenizer", "coverage", "held_out_split", "kept_ids", "prune_tokenizer",
    "pruned_table", "token_counts",
]  # fmt: skip
