"""How two sets of model outputs are compared, the same way everywhere (the exporter's validation imports these).

Kept here, in the torch-free runtime, so the exporter's verdict and the runtime's self-check cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECIDED_MARGIN = 0.5  # a top probability of 0.75 or more, for two labels


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


def concordance(a: np.ndarray, b: np.ndarray) -> float:
    """Lin's concordance correlation of two one-output columns, in float64: 2 cov / (var a + var b + (mean a −
    mean b)²), Pearson's correlation times how well the two columns' levels and spreads agree. A score that moves
    with its reference but is shifted or scaled (a head that lost its bias) is not one an app's threshold can
    read, and a correlation alone would pass it. Where both are constant: 1.0 if they are equal to float32
    precision (np.allclose's tolerance), else 0.0."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    level = b.mean()
    offset = a.mean() - level
    a, b = a - a.mean(), b - b.mean()
    variances = (a * a).mean() + (b * b).mean()
    if variances < 1e-24:
        return 1.0 if abs(offset) <= 1e-8 + 1e-5 * abs(level) else 0.0
    return float(2 * (a * b).mean() / (variances + offset * offset))


def row_similarity(candidates: np.ndarray, references: np.ndarray) -> np.ndarray:
    """How alike each candidate row is to its reference row: their cosine. A one-output model (a regression score,
    such as a cross-encoder's) has rows of one number, whose cosine is only a sign; there every row gets the
    concordance of the two columns across all rows instead, so a score that moves with its reference at its level
    and scale passes, and one that does not (a broken export, a lost bias) fails."""
    if references.shape[-1] == 1:
        return np.full(len(references), concordance(candidates, references))
    return cosine(candidates, references)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def decided_rows(logits: np.ndarray) -> np.ndarray:
    """Rows where the reference classifier has decided: top-two probabilities at least DECIDED_MARGIN apart.

    On an undecided row, int8 noise of the size every other probe shows flips the label and, logits being
    near zero, turns their cosine negative: measured on minilm-l6-sst2 with svd at 16x, the Chinese probe's
    reference logits [0.070, -0.041] came out [-0.027, 0.081], an abs diff of 0.1 like the decided probes'. On
    a compressed table the int8 encoder errs more on rare pieces: with lighttoken 25x, seed 1, on an Intel Xeon,
    the probe of made-up long words went from probabilities 0.558 / 0.442 to 0.349 / 0.651 (a shift of 0.21;
    the optimum/ORT int8 baseline of the original model kept every probe), so a row counts as decided only when
    its top two probabilities are at least twice that shift plus room apart (docs/parity.md).
    Such rows say nothing about the export, so the classifier's cosine and agreement leave them out (the
    count is reported; if every row is undecided all are kept)."""
    probabilities = np.sort(softmax(logits), axis=-1)
    decided = probabilities[:, -1] - probabilities[:, -2] >= DECIDED_MARGIN
    return decided if decided.any() else np.ones(len(logits), dtype=bool)


@dataclass(frozen=True)
class Agreement:
    """Candidate outputs against reference outputs, row by row."""

    min_cosine: float  # row_similarity's minimum: for one-output models, the columns' concordance
    max_abs_diff: float
    top1_agreement: float | None  # classifiers only, over the decided rows
    undecided: int  # classifier rows left out of min_cosine and top1_agreement
    one_output: bool = False  # min_cosine is then the scores' concordance (row_similarity)

    @property
    def measure(self) -> str:
        """What min_cosine is, in messages."""
        return "score concordance" if self.one_output else "min cosine"

    def failures(self, min_cosine: float, min_top1_agreement: float) -> list[str]:
        """What falls short of a tolerance, one message each (empty: it passes). NaN outputs fail: their
        cosine is NaN, which compares false with everything."""
        failed = []
        if not self.min_cosine >= min_cosine:
            failed.append(f"{self.measure} {self.min_cosine:.4f} < {min_cosine}")
        if self.top1_agreement is not None and self.top1_agreement < min_top1_agreement:
            failed.append(f"top-1 agreement {self.top1_agreement:.3f} < {min_top1_agreement}")
        return failed


def compares_labels(classifier: bool, references: np.ndarray) -> bool:
    """Whether outputs have a top label to agree on: a classifier's, unless it has one output (a score)."""
    return classifier and references.shape[-1] > 1


def agreement(candidates: np.ndarray, references: np.ndarray, classifier: bool) -> Agreement:
    """classifier: compare the top label too (a one-output model has none: row_similarity)."""
    classifier = compares_labels(classifier, references)
    decided = decided_rows(references) if classifier else np.ones(len(references), dtype=bool)
    top1 = float((candidates.argmax(-1) == references.argmax(-1))[decided].mean()) if classifier else None
    return Agreement(
        min_cosine=float(row_similarity(candidates, references)[decided].min()),
        max_abs_diff=float(np.abs(candidates - references).max()),
        top1_agreement=top1,
        undecided=int((~decided).sum()),
        one_output=references.shape[-1] == 1,
    )
