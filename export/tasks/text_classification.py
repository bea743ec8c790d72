"""text-classification: a classifier (or one-output regressor) of single texts; the bundle outputs its logits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from ..datasets import Examples
from ..errors import UserInputError
from .base import LabelledSet, Logits, Task, check_classification_head, classes_or_scores, label_names

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel


class TextClassification(Task):
    name = "text-classification"
    output_name = "logits"
    summary = "classifier logits of one text; labels from the checkpoint's config"
    optimum_task = "text-classification"
    classifier = True

    def auto_model_class(self) -> type:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def module(self, model: PreTrainedModel, pooling: str) -> nn.Module:
        return Logits(model)

    def labels(self, hf_config: PretrainedConfig) -> list[str]:
        return label_names(hf_config)

    def check(self, hf_config: PretrainedConfig) -> None:
        check_classification_head(hf_config)

    def labelled_set(self, examples: Examples, labels: list[str] | None) -> LabelledSet:
        if examples.pairs:
            raise UserInputError(f"{examples.dataset} holds text pairs; export the model with "
                                 "--task text-pair-classification to score it on pairs")  # fmt: skip
        metric, score = classes_or_scores(examples, labels)
        return LabelledSet(examples.dataset, metric, len(examples.texts), examples.texts, score)
