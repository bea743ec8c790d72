"""Probe texts (and text pairs, for pair tasks) for validation and golden.json: varied lengths, scripts and edge
cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LONG = (
    "The committee met on Tuesday to review the budget for the coming year, and after a long discussion about "
    "maintenance costs, staffing, and the new library wing, it approved a plan that spreads the spending over "
    "three years while keeping a reserve for emergencies. "
)

PROBE_TEXTS: tuple[str, ...] = (
    "",
    "Hi",
    "The movie was absolutely wonderful, I loved every minute of it.",
    "This was the worst meal I have had in years; the soup was cold and the staff were rude.",
    "How do I reset my password if I no longer have access to my email?",
    "Café crème brûlée à la française, naïve façade.",
    "我们明天去北京参观博物馆。",
    "Great job on the release 🎉👍 — shipping it now!!!",
    "The mitochondria is the powerhouse of the cell.",
    "   Extra    spaces\tand\ttabs   everywhere   ",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    _LONG * 12,  # longer than any preset's max length: exercises truncation
)


# Pairs as a cross-encoder, paraphrase or NLI model reads them: related and unrelated, empty sides, other
# scripts, and long sides that the tokenizer's longest-first truncation cuts (one long side, and two).
PAIR_PROBES: tuple[tuple[str, str], ...] = (
    ("A man is playing a guitar.", "A man is playing an instrument."),
    ("A man is playing a guitar.", "A woman is slicing an onion."),
    ("How do I reset my password?", "Steps to recover access to your account when you forget the password."),
    ("The cat sat on the mat.", "The cat did not sit on the mat."),
    ("", "An empty first text."),
    ("An empty second text.", ""),
    ("Café crème brûlée", "我们明天去北京参观博物馆。"),
    ("Great job 🎉👍", "   Extra    spaces\tand\ttabs   "),
    ("Who wrote the budget plan?", _LONG * 12),
    (_LONG * 6, _LONG * 6),
)


def model_inputs(encoded, input_names: list[str]) -> dict:
    """The tokenizer's output (numpy or torch) for each of the model's inputs. A tokenizer that gives no token types
    (an XLM-R one on a BERT model, as paraphrase-multilingual-MiniLM-L12-v2 pairs them) leaves the model its
    default, type 0 everywhere, and so do the runtimes, which read a single text's types from tokenizer.json (0);
    load.py refuses such a tokenizer on a pair model, whose second text tokenizer.json would type 1."""
    return {name: encoded[name] if name in encoded else encoded["input_ids"] * 0 for name in input_names}


@dataclass(frozen=True)
class ProbeBatch:
    texts: tuple[str, ...]
    token_ids: list[list[int]]  # per text (or pair), unpadded, truncated to max_length
    inputs: dict[str, np.ndarray]  # padded batch, int64, keyed by ONNX input name
    text_pairs: tuple[str, ...] | None = None  # the second text of each pair, for pair tasks
    token_types: list[list[int]] | None = None  # per pair, unpadded: 0 for the first text, 1 for the second


def encode_probes(tokenizer, input_names: list[str], max_length: int, texts=PROBE_TEXTS, text_pairs=None) -> ProbeBatch:
    """texts (and, for pair tasks, the second text of each pair) tokenized as one padded batch."""
    second = None if text_pairs is None else list(text_pairs)
    encoded = tokenizer(list(texts), second, padding=True, truncation=True, max_length=max_length, return_tensors="np")
    inputs = {name: values.astype(np.int64) for name, values in model_inputs(encoded, input_names).items()}
    lengths = encoded["attention_mask"].sum(axis=1)
    token_ids = [row[:n].tolist() for row, n in zip(encoded["input_ids"], lengths, strict=True)]
    if text_pairs is None:
        return ProbeBatch(tuple(texts), token_ids, inputs)
    types = encoded.get("token_type_ids")
    token_types = None if types is None else [row[:n].tolist() for row, n in zip(types, lengths, strict=True)]
    return ProbeBatch(tuple(texts), token_ids, inputs, tuple(text_pairs), token_types)


def encode_pair_probes(tokenizer, input_names: list[str], max_length: int) -> ProbeBatch:
    return encode_probes(tokenizer, input_names, max_length, [a for a, _ in PAIR_PROBES], [b for _, b in PAIR_PROBES])


def single(batch: ProbeBatch, index: int) -> dict[str, np.ndarray]:
    """One probe alone (batch 1, no padding)."""
    n = len(batch.token_ids[index])
    return {name: values[index : index + 1, :n] for name, values in batch.inputs.items()}
