"""What every task provides: the module on top of the encoder, its output, its probes, and how a labelled set
scores it. One file per task (feature_extraction.py, ...), registered in __init__.py."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import nn

from ..datasets import Examples
from ..errors import UserInputError
from ..probes import ProbeBatch, encode_probes

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel


@dataclass(frozen=True)
class LabelledSet:
    """What a task makes of a labelled set: the model inputs to run, in order, and how their outputs score."""

    dataset: str  # "sst2-dev"
    metric: str  # "accuracy"
    examples: int  # labelled items (an STS-B pair scored by an embedder is one item, two texts)
    texts: list[str]
    score: Callable[[np.ndarray], float]  # outputs [len(texts), features] -> metric
    text_pairs: list[str] | None = None  # the second text of each input, for pair tasks


class TaskGraph(nn.Module):
    """Calls the HF model with the inputs the architecture takes (token_type_ids is optional)."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def _run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)


class Logits(TaskGraph):
    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self._run(input_ids, attention_mask, token_type_ids).logits


class Task(ABC):
    name: ClassVar[str]
    output_name: ClassVar[str]
    summary: ClassVar[str]
    optimum_task: ClassVar[str]  # the name optimum's exporter knows it by (the baseline, the input names)
    pairs: ClassVar[bool] = False  # the model reads (text, text_pair)
    classifier: ClassVar[bool] = False  # outputs are logits over labels (compared by top label too)
    unread_weights: ClassVar[tuple[str, ...]] = ()  # name prefixes of weights its outputs never read (may be missing)

    @abstractmethod
    def auto_model_class(self) -> type: ...

    @abstractmethod
    def module(self, model: PreTrainedModel, pooling: str) -> nn.Module: ...

    @abstractmethod
    def labelled_set(self, examples: Examples, labels: list[str] | None) -> LabelledSet:
        """How this task's outputs score `examples` (UserInputError where they cannot); labels: the model's."""

    def labels(self, hf_config: PretrainedConfig) -> list[str] | None:
        return None

    def output_pooling(self, pooling: str) -> str | None:
        """How the bundle pools the encoder's tokens into its output, where it does (embedders)."""
        return None

    def check(self, hf_config: PretrainedConfig) -> None:
        """Refuse checkpoints this task cannot use (raise UserInputError); most tasks take any checkpoint."""
        return None

    def probes(self, tokenizer, input_names: list[str], max_length: int) -> ProbeBatch:
        """The golden probes: texts of varied lengths and scripts (pairs of them for pair tasks)."""
        return encode_probes(tokenizer, input_names, max_length)


def has_classification_head(hf_config: PretrainedConfig) -> bool:
    return any(a.endswith("ForSequenceClassification") for a in (hf_config.architectures or []))


def check_classification_head(hf_config: PretrainedConfig) -> None:
    if not has_classification_head(hf_config):
        raise UserInputError(
            f"checkpoint has no sequence-classification head (architectures: {hf_config.architectures}); "
            "use --task feature-extraction"
        )
    names = [name.lower() for name in label_names(hf_config)]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:  # the runtimes answer with a label, and --evaluate's labels map by name
        raise UserInputError(f"checkpoint's config.json id2label names the class {twice!r} twice; a bundle names its "
                             "classes by label, so each needs its own")  # fmt: skip
    if getattr(hf_config, "problem_type", None) == "multi_label_classification":  # sigmoid per label
        raise UserInputError("checkpoint is a multi-label classifier (problem_type multi_label_classification: "
                             "a sigmoid per label); bundles read classes by softmax, which would misreport it")


def label_names(hf_config: PretrainedConfig) -> list[str]:
    return [hf_config.id2label[i] for i in sorted(hf_config.id2label)]


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def classes_or_scores(examples: Examples, labels: list[str] | None) -> tuple[str, Callable[[np.ndarray], float]]:
    """(metric, scorer) of a classifier's logits: accuracy on class labels, or for a one-output model on scored
    items (STS-B) the Spearman correlation of its output with the scores."""
    if examples.layout.scored:
        if labels is not None and len(labels) != 1:
            raise UserInputError(f"{examples.dataset} holds scores, which score a one-output model; this one has "
                                 f"{len(labels)} labels")  # fmt: skip
        gold = np.array(examples.scores())
        return "spearman", lambda outputs: spearman(outputs[:, 0], gold)
    indices = label_indices(examples, labels or [])
    return "accuracy", lambda logits: accuracy(logits, indices)


def label_indices(examples: Examples, labels: list[str]) -> np.ndarray:
    """Each example's label as the model's output index: by the model's own label names (any case); a GLUE file's
    numbers by the names behind them (SST-2's 1 is positive: a checkpoint's label 1 may be NEGATIVE, or neutral)
    when the model has those names and every number is one of GLUE's; where the checkpoint names its labels
    generically (LABEL_0, ...), by the layout's GLUE order; any other number as the model's index (a table of
    the user's own, whose columns may be GLUE's)."""
    names = [name.lower() for name in labels]
    generic = all(re.fullmatch(r"(label_?)?\d+", name) for name in names)
    layout = examples.layout
    targets = [re.sub(r"^(\d+)\.0*$", r"\1", v) for v in examples.targets]  # pandas writes a class 1 as 1.0
    glue_numbers = (
        bool(layout.number_names)
        and set(layout.number_names) <= set(names)
        and all(v in {str(i) for i in range(len(layout.number_names))} or _class_number(v) is None for v in targets)
    )

    def index(value: str) -> int:
        if value.lower() in names:
            return names.index(value.lower())
        number = _class_number(value)
        if glue_numbers and number is not None:
            return names.index(layout.number_names[number])
        if generic and value in layout.label_order and (not labels or len(layout.label_order) == len(labels)):
            return layout.label_order.index(value)
        if number is not None and (not labels or number < len(labels)):
            return number
        raise UserInputError(f"{examples.dataset}: label {value!r} is not one of the model's labels "
                             f"({', '.join(labels)})")  # fmt: skip

    return np.array([index(v) for v in targets])


def _class_number(value: str) -> int | None:
    """A label written as a class number ("0", "12"), else None: str.isdigit() also takes "²" and other digits
    int() refuses, and a number past int()'s 4,300 digits."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
