"""text-pair-classification: a model that reads two texts at once (token types 0 and 1): paraphrase and NLI
classifiers, and cross-encoders with one output that score how well a passage answers a query (reranking)."""

from __future__ import annotations

from ..datasets import Examples
from ..errors import UserInputError
from ..probes import ProbeBatch, encode_pair_probes
from .base import LabelledSet, classes_or_scores
from .text_classification import TextClassification


class TextPairClassification(TextClassification):
    name = "text-pair-classification"
    summary = "logits (or one score) of a text pair: paraphrase, NLI, cross-encoder reranking"
    pairs = True

    def probes(self, tokenizer, input_names: list[str], max_length: int) -> ProbeBatch:
        return encode_pair_probes(tokenizer, input_names, max_length)

    def labelled_set(self, examples: Examples, labels: list[str] | None) -> LabelledSet:
        if not examples.pairs:
            raise UserInputError(f"{examples.dataset} holds single texts; a pair model is scored on pairs "
                                 "(text and text_pair columns, or a GLUE pair layout). A one-output head is taken "
                                 "for a cross-encoder: for a single-text regressor, pass --task "
                                 "text-classification")  # fmt: skip
        metric, score = classes_or_scores(examples, labels)
        return LabelledSet(examples.dataset, metric, len(examples.texts), examples.texts, score, examples.text_pairs)
