"""Embedding compression methods, registered by name (selected with --embedding)."""

from __future__ import annotations

from ..errors import UserInputError
from .base import CompressedEmbedding, EmbeddingMethod
from .direction_ae import DirectionAEEmbedding
from .int4 import Int4BlockEmbedding
from .int8 import Int8RowEmbedding
from .lighttoken import LightTokenEmbedding
from .none import NoCompression
from .svd import LowRankEmbedding

METHODS: dict[str, EmbeddingMethod] = {
    m.name: m
    for m in (
        NoCompression(),
        Int8RowEmbedding(),
        Int4BlockEmbedding(),
        LowRankEmbedding(),
        DirectionAEEmbedding(),
        LightTokenEmbedding(),
    )
}


def get_method(name: str) -> EmbeddingMethod:
    if name not in METHODS:
        raise UserInputError(f"unknown embedding method '{name}'; choose one of: {', '.join(METHODS)}")
    return METHODS[name]


__all__ = ["METHODS", "CompressedEmbedding", "EmbeddingMethod", "get_method"]
