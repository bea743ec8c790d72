"""Export BERT-family models to validated ONNX Runtime (mobile) bundles with compressed token embeddings."""

from __future__ import annotations

__version__ = "0.1.0"
