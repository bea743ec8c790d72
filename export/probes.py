"""Probe texts for validation and golden.json: varied lengths, scripts and edge cases."""

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


@dataclass(frozen=True)
class ProbeBatch:
    texts: tuple[str, ...]
    token_ids: list[list[int]]  # per text, unpadded, truncated to max_length
    inputs: dict[str, np.ndarray]  # padded batch, int64, keyed by ONNX input name


def encode_probes(tokenizer, input_names: list[str], max_length: int, texts=PROBE_TEXTS) -> ProbeBatch:
    encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="np")
    inputs = {name: encoded[name].astype(np.int64) for name in input_names}
    lengths = encoded["attention_mask"].sum(axis=1)
    token_ids = [row[:n].tolist() for row, n in zip(encoded["input_ids"], lengths, strict=True)]
    return ProbeBatch(tuple(texts), token_ids, inputs)


def single(batch: ProbeBatch, index: int) -> dict[str, np.ndarray]:
    """One probe alone (batch 1, no padding)."""
    n = len(batch.token_ids[index])
    return {name: values[index : index + 1, :n] for name, values in batch.inputs.items()}
