"""runtime_py: run an exported bundle with onnxruntime, tokenizers and numpy only (no torch, no transformers).

from runtime_py import Bundle
bundle = Bundle.load("bundles/minilm")
bundle.embed(["a sentence", "another one"])        # feature-extraction bundles
bundle.search("query", corpus, k=3)
bundle.classify("what a great film")               # text-classification bundles
bundle.classify(("a premise", "a hypothesis"))     # text-pair-classification bundles (pairs)
bundle.rerank("query", passages, k=3)              # pair models: passages by score((query, passage))
bundle.self_check().passed
"""

from __future__ import annotations

from .bundle import Bundle, Hit, Prediction
from .manifest import BundleError, Manifest
from .self_check import SelfCheck

__all__ = ["Bundle", "BundleError", "Hit", "Manifest", "Prediction", "SelfCheck"]
