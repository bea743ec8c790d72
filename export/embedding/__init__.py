"""Token-table compression methods, registered by name (selected with --embedding). Each is one file: a frozen
dataclass of its settings with a `fit` that returns the module replacing the word embedding."""

from __future__ import annotations

from typing import Any

from ..method_settings import make, registered
from .base import CompressedEmbedding, EmbeddingMethod
from .direction_ae import DirectionAE
from .int4 import Int4
from .int8 import Int8
from .lighttoken import LightToken
from .none import NoCompression
from .svd import Svd

METHODS: dict[str, type[EmbeddingMethod]] = {
    m.name: m for m in (NoCompression, Int8, Int4, Svd, DirectionAE, LightToken)
}


def method_type(name: str) -> type[EmbeddingMethod]:
    return registered(METHODS, "embedding", name)


def make_method(name: str, **settings: Any) -> EmbeddingMethod:
    """The method called `name` with `settings` over its defaults (a preset's [embedding] table, or --ratio)."""
    return make(METHODS, "embedding", name, **settings)


__all__ = [
    "METHODS",
    "CompressedEmbedding",
    "DirectionAE",
    "EmbeddingMethod",
    "Int4",
    "Int8",
    "LightToken",
    "NoCompression",
    "Svd",
    "make_method",
    "method_type",
]
