"""Export BERT-family models to validated ONNX Runtime (mobile) bundles with compressed token embeddings.

    import export
    result = export.build("bert", embedding=export.LightToken(ratio=50), out="bundles/minilm")
    result.out, result.sizes["model_bytes"], result.parity["passed"]
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import ExportResult, build, search
from .cache import Cache
from .config import DistillConfig, VocabConfig
from .embedding import DirectionAE, EmbeddingMethod, Int4, Int8, LightToken, NoCompression, Svd
from .encoder import EncoderMethod, FullPrecision, Int4AsInt8, Int4Encoder, Int8Encoder, LowRank, Tucker
from .errors import ParityError, UserInputError

__all__ = [
    "Cache",
    "DirectionAE",
    "DistillConfig",
    "EmbeddingMethod",
    "EncoderMethod",
    "ExportResult",
    "FullPrecision",
    "Int4",
    "Int4AsInt8",
    "Int4Encoder",
    "Int8",
    "Int8Encoder",
    "LightToken",
    "LowRank",
    "NoCompression",
    "ParityError",
    "Svd",
    "Tucker",
    "UserInputError",
    "VocabConfig",
    "build",
    "search",
]
