"""Latency of one model call at batch 1 for given sequence lengths, and the process's peak memory."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

WARMUP = 5
FILLER = "the quick brown fox jumps over the lazy dog "  # repeated past the asked length, then cut to it


@dataclass(frozen=True)
class Latency:
    tokens: int
    runs: int
    p50_ms: float
    p95_ms: float


def cut_to_length(full: dict[str, np.ndarray], tokens: int) -> dict[str, np.ndarray]:
    """The first `tokens` columns of a tokenized FILLER batch, ending on its closing special token as a real
    text does."""
    keep = {name: values[:, :tokens].copy() for name, values in full.items()}
    keep["input_ids"][0, -1] = full["input_ids"][0, -1]
    return keep


def check_length(bundle, tokens: int) -> None:
    if not 2 <= tokens <= bundle.manifest.max_length:
        raise ValueError(f"sequence length must be between 2 and the bundle's max length {bundle.manifest.max_length}")


def inputs_of_length(bundle, tokens: int) -> dict[str, np.ndarray]:
    """A batch of one text that tokenizes to exactly `tokens` ids, special tokens included."""
    check_length(bundle, tokens)
    return cut_to_length(bundle.encoder.inputs([filler(tokens)]), tokens)


def filler(tokens: int) -> str:
    """A text of more than `tokens` words, so of more than `tokens` tokens in any tokenizer (a fixed text cut
    short a long max_length's row silently)."""
    return FILLER * (tokens // len(FILLER.split()) + 1)


def summarize(tokens: int, seconds: list[float]) -> Latency:
    p50, p95 = np.percentile(np.array(seconds) * 1000, [50, 95])
    return Latency(tokens, len(seconds), float(p50), float(p95))


def measure(bundle, tokens: int, runs: int) -> Latency:
    inputs = inputs_of_length(bundle, tokens)
    for _ in range(WARMUP):
        bundle.run(inputs)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        bundle.run(inputs)
        seconds.append(time.perf_counter() - start)
    return summarize(tokens, seconds)


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (None where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # bytes on macOS, KiB elsewhere
