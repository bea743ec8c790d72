"""Labelled evaluation sets in the GLUE TSV layout, as a registry: which task each scores and how.

A set is recognised by the column names in its header, so `--evaluate` takes a GLUE task folder (its dev.tsv
is read) or any TSV file with the same columns. Every set turns into a flat list of texts to run through a model
and a `score` that maps the model's outputs for those texts (in order) to the metric.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime_py.parity import cosine

from .errors import UserInputError


@dataclass(frozen=True)
class LabelledSet:
    dataset: str  # "sst2-dev"
    metric: str  # "accuracy"
    examples: int  # labelled items (an STS-B pair is one item, two texts)
    texts: list[str]
    score: Callable[[np.ndarray], float]  # outputs [len(texts), features] -> metric


@dataclass(frozen=True)
class DatasetKind:
    name: str
    task: str  # the export task whose output this set scores
    metric: str
    columns: tuple[str, ...]
    build: Callable[[dict[str, list[str]], str], LabelledSet]


def _sst2(columns: dict[str, list[str]], dataset: str) -> LabelledSet:
    labels = np.array([int(v) for v in columns["label"]])
    return LabelledSet(dataset, "accuracy", len(labels), columns["sentence"], lambda logits: accuracy(logits, labels))


def _stsb(columns: dict[str, list[str]], dataset: str) -> LabelledSet:
    gold = np.array([float(v) for v in columns["score"]])
    n = len(gold)

    def score(embeddings: np.ndarray) -> float:
        return spearman(cosine(embeddings[:n], embeddings[n:]), gold)

    return LabelledSet(dataset, "spearman", n, columns["sentence1"] + columns["sentence2"], score)


KINDS: dict[str, DatasetKind] = {
    kind.name: kind
    for kind in (
        DatasetKind("sst2", "text-classification", "accuracy", ("sentence", "label"), _sst2),
        DatasetKind("stsb", "feature-extraction", "spearman", ("sentence1", "sentence2", "score"), _stsb),
    )
}


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def tsv_file(path: Path) -> Path:
    return path / "dev.tsv" if path.is_dir() else path


def read_columns(path: Path) -> dict[str, list[str]]:
    """A GLUE TSV as {column: values}; QUOTE_NONE because GLUE sentences contain bare quotes."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], [r for r in rows[1:] if r]
    return {name: [r[i] for r in body] for i, name in enumerate(header)}


def detect_kind(path: Path) -> DatasetKind:
    """Check the file and its layout before any model is loaded."""
    if not path.is_file():
        raise UserInputError(f"evaluation data {path} not found (give a GLUE task folder or its dev.tsv)")
    with path.open(encoding="utf-8") as f:
        header = set(f.readline().rstrip("\n").split("\t"))
    for kind in KINDS.values():
        if set(kind.columns) <= header:
            return kind
    known = "; ".join(f"{k.name}: {', '.join(k.columns)}" for k in KINDS.values())
    raise UserInputError(f"{path}: header columns match no known evaluation set ({known})")


def load_set(path: Path, task: str) -> LabelledSet:
    path = tsv_file(path)
    kind = detect_kind(path)
    if kind.task != task:
        raise UserInputError(f"{path} is a {kind.name} set, which scores {kind.task} models; this export is {task}")
    dataset = f"{kind.name}-{path.stem}"
    try:
        return kind.build(read_columns(path), dataset)
    except (KeyError, ValueError, IndexError) as err:
        raise UserInputError(f"{path}: malformed {kind.name} row ({err})") from None
