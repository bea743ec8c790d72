"""feature-extraction: a sentence embedder; the bundle outputs the pooled, L2-normalised sentence vector."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from runtime_py.parity import cosine

from ..datasets import Examples
from ..errors import UserInputError
from .base import LabelledSet, Task, TaskGraph, spearman

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class SentenceEmbedding(TaskGraph):
    """Encoder → masked pooling → L2 normalisation, all inside the graph."""

    def __init__(self, model: PreTrainedModel, pooling: str) -> None:
        super().__init__(model)
        self.pooling = pooling

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return sentence_vectors(self._run(input_ids, attention_mask, token_type_ids)[0], attention_mask, self.pooling)


def sentence_vectors(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Token states [batch, tokens, width] → the L2-normalised sentence vectors: [CLS] or the masked mean."""
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    # Written out instead of F.normalize: that exports as ReduceL2, which is outside ORT's mobile op set.
    norm = (pooled * pooled).sum(dim=-1, keepdim=True).sqrt().clamp(min=1e-12)
    return pooled / norm


class FeatureExtraction(Task):
    name = "feature-extraction"
    output_name = "sentence_embedding"
    summary = "mean/CLS-pooled, L2-normalised sentence embedding"
    optimum_task = "feature-extraction"
    unread_weights = ("pooler.",)  # the sentence embedding pools the last hidden states itself

    def auto_model_class(self) -> type:
        from transformers import AutoModel

        return AutoModel

    def module(self, model: PreTrainedModel, pooling: str) -> nn.Module:
        return SentenceEmbedding(model, pooling)

    def output_pooling(self, pooling: str) -> str:
        return pooling

    def labelled_set(self, examples: Examples, labels: list[str] | None) -> LabelledSet:
        """Scored pairs (STS-B): the Spearman correlation of the two texts' cosine with the scores."""
        if not (examples.pairs and examples.layout.scored):
            raise UserInputError(f"{examples.dataset} has class labels; a sentence embedder is scored on pairs "
                                 "with similarity scores (the STS-B layout)")  # fmt: skip
        gold, n = np.array(examples.scores()), len(examples.texts)

        def score(embeddings: np.ndarray) -> float:
            return spearman(cosine(embeddings[:n], embeddings[n:]), gold)

        return LabelledSet(examples.dataset, "spearman", n, examples.texts + examples.text_pairs, score)
