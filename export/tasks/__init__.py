"""Tasks, as a registry: what the exported graph computes on top of the encoder, what it outputs, its golden
probes, and how a labelled set scores it. Adding a task is one file plus its line here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..datasets import read_examples
from .base import LabelledSet, Task, has_classification_head
from .feature_extraction import FeatureExtraction
from .text_classification import TextClassification
from .text_pair_classification import TextPairClassification

if TYPE_CHECKING:
    from transformers import PretrainedConfig

TASKS: dict[str, Task] = {t.name: t for t in (FeatureExtraction(), TextClassification(), TextPairClassification())}


def detect_task(hf_config: PretrainedConfig, pairs: bool = False) -> str:
    """A checkpoint without a sequence-classification head is an embedder. One with a head reads pairs when the
    evaluation data holds pairs (`pairs`) or when the head has one output (a cross-encoder's score; single-text
    regressors are rare), else single texts."""
    if not has_classification_head(hf_config):
        return FeatureExtraction.name
    if pairs or hf_config.num_labels == 1:
        return TextPairClassification.name
    return TextClassification.name


def load_set(path: Path, task: str, labels: list[str] | None = None) -> LabelledSet:
    """A labelled set file (datasets.py) as `task` scores it; labels: the model's label names (classifiers)."""
    return TASKS[task].labelled_set(read_examples(Path(path)), labels)


__all__ = ["TASKS", "LabelledSet", "Task", "detect_task", "has_classification_head", "load_set"]
