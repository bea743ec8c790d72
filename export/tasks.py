"""Tasks, as a registry: what the exported graph computes on top of the encoder and what it outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from .errors import UserInputError

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel


class _TaskGraph(nn.Module):
    """Calls the HF model with the inputs the architecture takes (token_type_ids is optional)."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def _run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)


class SentenceEmbedding(_TaskGraph):
    """Encoder → masked pooling → L2 normalisation, all inside the graph."""

    def __init__(self, model: PreTrainedModel, pooling: str) -> None:
        super().__init__(model)
        self.pooling = pooling

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self._run(input_ids, attention_mask, token_type_ids)[0]
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        # Written out instead of F.normalize: that exports as ReduceL2, which is outside ORT's mobile op set.
        norm = (pooled * pooled).sum(dim=-1, keepdim=True).sqrt().clamp(min=1e-12)
        return pooled / norm


class Logits(_TaskGraph):
    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self._run(input_ids, attention_mask, token_type_ids).logits


class Task(ABC):
    name: ClassVar[str]
    output_name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def auto_model_class(self) -> type: ...

    @abstractmethod
    def graph(self, model: PreTrainedModel, pooling: str) -> nn.Module: ...

    def labels(self, hf_config: PretrainedConfig) -> list[str] | None:
        return None

    def check(self, hf_config: PretrainedConfig) -> None:
        """Refuse checkpoints this task cannot use (raise UserInputError); most tasks take any checkpoint."""
        return None


class FeatureExtraction(Task):
    name = "feature-extraction"
    output_name = "sentence_embedding"
    summary = "mean/CLS-pooled, L2-normalised sentence embedding"

    def auto_model_class(self) -> type:
        from transformers import AutoModel

        return AutoModel

    def graph(self, model: PreTrainedModel, pooling: str) -> nn.Module:
        return SentenceEmbedding(model, pooling)


class TextClassification(Task):
    name = "text-classification"
    output_name = "logits"
    summary = "classifier logits; labels from the checkpoint's config"

    def auto_model_class(self) -> type:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def graph(self, model: PreTrainedModel, pooling: str) -> nn.Module:
        return Logits(model)

    def labels(self, hf_config: PretrainedConfig) -> list[str]:
        return [hf_config.id2label[i] for i in sorted(hf_config.id2label)]

    def check(self, hf_config: PretrainedConfig) -> None:
        if not has_classification_head(hf_config):
            raise UserInputError(
                f"checkpoint has no sequence-classification head (architectures: {hf_config.architectures}); "
                "use --task feature-extraction"
            )


TASKS: dict[str, Task] = {t.name: t for t in (FeatureExtraction(), TextClassification())}


def has_classification_head(hf_config: PretrainedConfig) -> bool:
    return any(a.endswith("ForSequenceClassification") for a in (hf_config.architectures or []))


def detect_task(hf_config: PretrainedConfig) -> str:
    """A checkpoint with a sequence-classification head is a classifier; any other is an embedder."""
    return TextClassification.name if has_classification_head(hf_config) else FeatureExtraction.name
