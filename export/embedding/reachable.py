"""Token rows no text can reach, and the module that leaves them out of the bundle.

BERT's WordPiece vocabularies carry rows the tokenizer never emits: the `[unused]` slots, `##` continuations of
punctuation and CJK characters (the pre-tokenizer always splits those off as words of their own), accented or
capitalised forms that an uncased normalizer rewrites. On all-MiniLM-L6-v2 that is 1,331 of 30,522 rows in 20 id
ranges (tests/test_reachable_rows.py; 1,331 × 384 bytes = 511 KB of an int8 table). Storing only the reachable rows
changes no output for any text; the graph maps a token id to its stored row by subtracting the sizes of the left-out
id ranges below it.

The analysis asks the tokenizer itself, so it follows the vocabulary's own normalizer and pre-tokenizer:
- a special or added token is reachable, and so is the model's unknown token (added or not);
- a word-initial token t is reachable exactly when encoding the text t gives [t] (if t starts any word, t
  survives normalisation and pre-tokenisation whole, and the longest-match rule then picks t itself);
- a continuation `##x` is kept unless x cannot sit inside a word: normalising x changes it, or the
  pre-tokenizer splits both "a" + x and x's first character + x (BERT's splits off every punctuation mark;
  a `Whitespace` pre-tokenizer keeps a run of them, "--", as one word). Keeping a continuation that is in fact
  unreachable only costs bytes.
Only WordPiece is analysed: for BPE and Unigram vocabularies every row is kept, up to the tokenizer's last id (a
table padded past it, as some checkpoints pad theirs to a round size, holds rows no tokenizer output reaches).
"""

from __future__ import annotations

import torch

from .base import CompressedEmbedding

_STEM = "a"  # any letter that starts a word, to test whether a continuation can follow it


def reachable_rows(tokenizer, vocab_size: int) -> torch.Tensor:
    """bool [vocab_size]: rows some text can reach (where the vocabulary is not WordPiece: every row up to the
    tokenizer's last id)."""
    keep = torch.ones(vocab_size, dtype=torch.bool)
    keep[max(tokenizer.get_vocab().values()) + 1 :] = False  # a table padded past the tokenizer (to a round size)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or type(backend.model).__name__ != "WordPiece":
        return keep
    prefix = backend.model.continuing_subword_prefix
    special = {t.content for t in backend.get_added_tokens_decoder().values()}
    pieces = {i: t for t, i in backend.get_vocab(with_added_tokens=False).items() if i < vocab_size}
    words = {i: t for i, t in pieces.items() if t not in special and not t.startswith(prefix)}
    word_ids = list(words)
    # through the transformers tokenizer, not the backend: tokenizer.json may switch on fixed padding
    encoded = tokenizer([words[i] for i in word_ids], add_special_tokens=False)["input_ids"]
    for i, ids in zip(word_ids, encoded, strict=True):
        keep[i] = ids == [i]
    unknown = backend.get_vocab(with_added_tokens=False).get(backend.model.unk_token)
    if unknown is not None and unknown < vocab_size:  # what any character outside the vocabulary becomes
        keep[unknown] = True
    for i, piece in pieces.items():
        if piece not in special and piece.startswith(prefix):
            keep[i] = _can_continue(backend, piece[len(prefix) :])
    return keep


def _can_continue(backend, rest: str) -> bool:
    if not rest:
        return False
    if backend.normalizer is not None and backend.normalizer.normalize_str(rest) != rest:
        return False
    if backend.pre_tokenizer is None:
        return True
    return any([word for word, _ in backend.pre_tokenizer.pre_tokenize_str(stem + rest)] == [stem + rest]
               for stem in (_STEM, rest[0]))  # fmt: skip


class ReachableRows(CompressedEmbedding):
    """A method's module fitted on the reachable rows only, looked up by the tokenizer's own ids.

    Stored besides the inner module: the last id and the length of each left-out range (int64 [ranges, 1, 1],
    shaped to broadcast against [batch, seq] ids without an Unsqueeze and its constant).
    Row of id = id − Σ length[r] over the ranges r that end below id: Greater → Cast → Mul → ReduceSum → Sub,
    a few dozen integer operations per token. An id inside a left-out range, which no tokenizer output is, has
    no row of its own: it lands on a later stored row, or past the last one (ONNX Runtime's Gather then refuses the
    call), so callers pass the tokenizer's ids.
    """

    def __init__(self, inner: CompressedEmbedding, keep: torch.Tensor) -> None:
        super().__init__(keep.numel(), inner.embedding_dim)
        self.inner = inner
        self.quantizable = inner.quantizable
        ends, lengths = left_out_ranges(keep)
        self.register_buffer("range_ends", ends.reshape(-1, 1, 1))  # int64: last left-out id of each range
        self.register_buffer("range_lengths", lengths.reshape(-1, 1, 1))  # int64

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        below = (input_ids > self.range_ends).long()  # [ranges, batch, seq]
        return self.inner(input_ids - (below * self.range_lengths).sum(0))

    def describe(self) -> dict:
        stored = self.num_embeddings - int(self.range_lengths.sum())
        return {**self.inner.describe(), "rows_stored": stored, "rows_unreachable": self.num_embeddings - stored}


def left_out_ranges(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The runs of False in `keep`, as (last id of each run, run length), both int64."""
    ends, lengths = [], []
    for i, kept in enumerate(keep.tolist()):
        if kept:
            continue
        if ends and ends[-1] == i - 1:
            ends[-1], lengths[-1] = i, lengths[-1] + 1
        else:
            ends.append(i)
            lengths.append(1)
    return torch.tensor(ends, dtype=torch.int64), torch.tensor(lengths, dtype=torch.int64)
