"""Encoder quantization modes, as a registry: --quantize MODE picks one. Adding a mode is one file plus its line
here."""

from __future__ import annotations

from ..errors import UserInputError
from .base import Quantization
from .int8_dynamic import Int8Dynamic
from .none import NoQuantization

QUANTIZATIONS: dict[str, Quantization] = {q.name: q for q in (Int8Dynamic(), NoQuantization())}


def get_quantization(mode: str) -> Quantization:
    if mode not in QUANTIZATIONS:
        raise UserInputError(f"unknown --quantize mode '{mode}'; choose one of: {', '.join(QUANTIZATIONS)}")
    return QUANTIZATIONS[mode]


__all__ = ["QUANTIZATIONS", "Quantization", "get_quantization"]
