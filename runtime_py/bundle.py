"""Bundle: load an exported bundle and run it on onnxruntime: embed / similarity / search (embedders), classify
(text or pair classifiers), score / rerank (pair models)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, RuntimeException

from .arguments import count_at_least
from .manifest import BundleError, Manifest, read_manifest
from .messages import first_line
from .parity import softmax
from .session import ModelLoadError, ModelSession, session_options
from .text import Item, TextEncoder, as_pairs, as_texts

# One text per model call by default. ORT's dynamic int8 quantizes activations with one range per call, so in
# a batch a text's output shifts with its neighbours (padding included); one at a time, a text always gets the
# same output, the one the export report and the app compute. Pass batch_size for throughput instead.
DEFAULT_BATCH_SIZE = 1


ORT_RUN_ERRORS = (Fail, InvalidArgument, RuntimeException)  # what a session's run raises on inputs it refuses

# Label names that say two texts go together (GLUE's MNLI/RTE/QNLI, QQP, MRPC; PAWS; rerankers), matched whole and
# case-blind, so "not_entailment" is not one. RTE's and QNLI's heads put entailment first, MNLI's three end with
# contradiction: the last label is the positive one only of a head named otherwise.
GOES_TOGETHER = ("entailment", "duplicate", "equivalent", "paraphrase", "relevant")


def scored_label(labels: Sequence[str], label: str | None = None) -> int:
    """The output a pair classifier's score() reads: `label`'s; by default the one label named in GOES_TOGETHER,
    else the second of two (LABEL_1, a binary cross-encoder's "relevant"); a head of three or more labels named
    otherwise has no default (ValueError: name the label). The Android core's Outputs.scoredLabel is the same."""
    if label is not None:
        if label not in labels:
            raise ValueError(f"label {label!r} is not one of this bundle's: {', '.join(labels)}")
        return list(labels).index(label)
    named = [i for i, name in enumerate(labels) if name.lower() in GOES_TOGETHER]
    if len(named) == 1:
        return named[0]
    if len(labels) == 2:
        return 1
    which = "more than one says" if named else "none says"
    raise ValueError(f"this pair classifier has {len(labels)} labels ({', '.join(labels)}) and {which} the texts "
                     "go together: name the one to score by (label=, or --label)")  # fmt: skip


def check_inputs(manifest: Manifest, session: ModelSession) -> None:
    """bundle.json lists the inputs the model takes (the load-time weights aside), no more and no fewer: the Java
    core feeds every one it lists, and a model input it leaves out would fail at the first call."""
    if set(manifest.input_names) != set(session.input_names):
        raise BundleError(f"bundle.json lists the model inputs {', '.join(manifest.input_names)}; the model takes "
                          f"{', '.join(session.input_names)}")  # fmt: skip


def check_outputs(manifest: Manifest, session: ModelSession) -> None:
    """The output bundle.json names is one the model has, and a classifier names as many labels as it has
    outputs (where the model's output width is fixed)."""
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if manifest.output_name not in outputs:
        raise BundleError(f"bundle.json names the output {manifest.output_name!r}; the model's are "
                          f"{', '.join(outputs)}")  # fmt: skip
    width, labels = outputs[manifest.output_name][-1], manifest.labels
    if manifest.is_classifier and labels and isinstance(width, int) and len(labels) != width:
        raise BundleError(f"bundle.json names {len(labels)} labels for a model with {width} outputs")


class Hit(NamedTuple):
    index: int  # position in the corpus (search) or in the passages (rerank)
    score: float  # cosine similarity to the query (search), or the pair model's score (rerank)


class Prediction(NamedTuple):
    label: str
    probability: float


@dataclass
class Bundle:
    manifest: Manifest
    encoder: TextEncoder
    session: ModelSession

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None, verify: bool = True) -> Bundle:
        """Read bundle.json, check every file's sha256 (verify=False skips it), load the tokenizer and the model.
        threads: ORT intra-op threads (None: onnxruntime's default, one per core)."""
        options = session_options(threads)  # first: it refuses a bad thread count (ValueError) before any reading
        manifest = read_manifest(Path(path), verify=verify)
        model = manifest.folder / manifest.model_file
        weights = manifest.folder / manifest.model.weights if manifest.model.weights else None
        try:
            session = ModelSession(model, weights, options)
        except ModelLoadError as err:
            raise BundleError(str(err)) from None
        check_inputs(manifest, session)
        check_outputs(manifest, session)
        return cls(manifest, TextEncoder(manifest), session)

    @property
    def task(self) -> str:
        return self.manifest.task

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model on a padded batch of inputs (as TextEncoder.inputs makes them). The inputs come from the
        bundle's own tokenizer and settings, so a model that refuses them (an id past its table, a sequence past
        its positions) is a broken bundle."""
        try:
            return self.session.run(inputs, self.manifest.output_name)
        except ORT_RUN_ERRORS as err:
            raise BundleError(f"the bundle's model failed on its own tokenizer's inputs: {first_line(err)}") from None

    def outputs(self, items: list[Item], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """The model's outputs for texts, or for (text, text_pair) tuples on a pair bundle."""
        batch_size = count_at_least(batch_size, "batch_size", 1)
        if not items:
            return np.zeros((0, self.output_width()), dtype=np.float32)
        chunks = (items[i : i + batch_size] for i in range(0, len(items), batch_size))
        return np.concatenate([self.run(self.encoder.inputs(chunk)) for chunk in chunks])

    def output_width(self) -> int:
        """Values per output row: the embedding's width, the classes, or 1 for a score (from the graph where it is
        fixed, else from one call on an empty text)."""
        width = next(o.shape[-1] for o in self.session.get_outputs() if o.name == self.manifest.output_name)
        return width if isinstance(width, int) else self.run(self.encoder.inputs([""])).shape[-1]

    # --- embedders ---------------------------------------------------------------------------------------------

    def embed(self, texts: str | Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Sentence embeddings, L2-normalised: [dim] for one string, [n, dim] for a list."""
        if self.task != "feature-extraction":
            instead = "score()" if self.output_width() == 1 else "classify()"
            raise BundleError(f"embed() needs a feature-extraction bundle; this one is {self.task}: use {instead}")
        items, single = as_texts(texts)
        vectors = self.outputs(items, batch_size)
        return vectors[0] if single else vectors

    def similarity(self, a: str | Sequence[str], b: str | Sequence[str]) -> float | np.ndarray:
        """Cosine similarity: a float for two strings, else an [len(a), len(b)] matrix."""
        left, right = self._unit(a), self._unit(b)
        scores = left @ right.T
        return float(scores[0, 0]) if isinstance(a, str) and isinstance(b, str) else scores

    def search(self, query: str, corpus: Sequence[str] | np.ndarray, k: int = 5) -> list[Hit]:
        """The k corpus entries closest to the query, best first. corpus: texts, or their embeddings [n, dim]
        (embed the corpus once and search it many times)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, not {type(query).__name__}")
        if isinstance(corpus, str):
            raise TypeError("corpus must be a list of texts or their embeddings [n, dim], not one str")
        k = count_at_least(k, "k", 0)
        vectors = self._corpus_vectors(corpus) if isinstance(corpus, np.ndarray) else self._unit(corpus)
        scores = vectors @ self._unit(query)[0]
        best = np.argsort(-scores, kind="stable")[:k]
        return [Hit(int(i), float(scores[i])) for i in best]

    def _corpus_vectors(self, corpus: np.ndarray) -> np.ndarray:
        """Embeddings given for search(): [n, dim] finite numbers, dim this bundle's width (a NaN row would score
        NaN and land anywhere in the ranking), made unit vectors as _unit makes texts' (scores are cosines)."""
        width = self.output_width()
        if corpus.ndim != 2 or corpus.shape[1] != width or not np.issubdtype(corpus.dtype, np.number):
            raise ValueError(f"corpus embeddings must be numbers of shape [n, {width}] (embed() gives them), not "
                             f"{corpus.dtype} of shape {list(corpus.shape)}")  # fmt: skip
        if not np.isfinite(corpus).all():
            raise ValueError("corpus embeddings hold NaN or infinite values")
        vectors = corpus.astype(np.float64)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    def _unit(self, texts: str | Sequence[str]) -> np.ndarray:
        vectors = np.atleast_2d(self.embed(texts)).astype(np.float64)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    # --- classifiers --------------------------------------------------------------------------------------------

    def classify(self, items, batch_size: int = DEFAULT_BATCH_SIZE):
        """(label, probability) of the most likely class: one Prediction for a text (a (text, text_pair) tuple on
        a pair bundle), a list for a list."""
        if not self.manifest.is_classifier:
            raise BundleError(f"classify() needs a classifier bundle; this one is {self.task}: use embed(), "
                              "similarity() or search()")  # fmt: skip
        if self.output_width() == 1:
            instead = "score() or rerank()" if self.manifest.takes_pairs else "score()"
            raise BundleError(f"this bundle has one output (a score, not classes): use {instead}")
        inputs, single = self._items(items)
        probabilities = softmax(self.outputs(inputs, batch_size).astype(np.float64))
        labels = self.manifest.labels or [str(i) for i in range(probabilities.shape[-1])]
        predictions = [Prediction(labels[int(p.argmax())], float(p.max())) for p in probabilities]
        return predictions[0] if single else predictions

    # --- pair models -------------------------------------------------------------------------------------------

    def score(self, pairs, label: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE):
        """How well each (text, text_pair) goes together: a one-output model's score as it comes (an STS-B
        cross-encoder's similarity / 5), or a classifier's probability of `label` (default: scored_label's). A
        float for one pair, an array for a list. A one-output model of single texts (a regressor) scores texts."""
        one_output = self.manifest.is_classifier and self.output_width() == 1
        if not (self.manifest.takes_pairs or one_output):
            raise BundleError(f"score() needs a pair model or a one-output model; this one is {self.task}")
        items, single = self._items(pairs)
        if one_output and label is not None:
            raise ValueError(f"label {label!r}: this model has one output, a score, and no labels to choose from")
        if one_output:
            scores = self.outputs(items, batch_size).astype(np.float64)[:, 0]
        else:
            index = scored_label(self.manifest.labels or [str(i) for i in range(self.output_width())], label)
            scores = softmax(self.outputs(items, batch_size).astype(np.float64))[:, index]
        return float(scores[0]) if single else scores

    def rerank(self, query: str, passages: Sequence[str], k: int | None = None, label: str | None = None) -> list[Hit]:
        """The passages ordered by score((query, passage)), best first (ties keep their order); k: only the best k."""
        self._require("text-pair-classification", "rerank")
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, not {type(query).__name__}")
        if isinstance(passages, str):  # as search() refuses one str for its corpus
            raise TypeError("passages must be a list of texts, not one str")
        texts, _ = as_texts(passages)
        k = len(texts) if k is None else count_at_least(k, "k", 0)
        scores = self.score([(query, p) for p in texts], label) if texts else np.zeros(0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(int(i), float(scores[i])) for i in order]

    def _items(self, items) -> tuple[list[Item], bool]:
        """Texts for a single-text bundle, (text, text_pair) tuples for a pair bundle."""
        return as_pairs(items) if self.manifest.takes_pairs else as_texts(items)

    def _require(self, task: str, api: str) -> None:
        if self.task != task:
            raise BundleError(f"{api}() needs a {task} bundle; this one is {self.task}")

    # --- self-check --------------------------------------------------------------------------------------------

    def self_check(self, probes: int | None = None):
        """Replay golden.json through this runtime, or only its first `probes` probes; see self_check.py."""
        from .self_check import run_self_check

        return run_self_check(self, probes)
