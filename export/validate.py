"""The validate stage: run the bundle's model in onnxruntime on the probes and compare with PyTorch.

Two questions, answered apart:
- parity (does the export do what the PyTorch model does?): the fp32 ONNX graph against the PyTorch model
  carrying the same compressed embedding at EXPORT_ATOL, and the shipped (quantized, converted) model against
  that same PyTorch model, in one padded batch and one probe at a time. The shipped model is held to the
  optimum/ORT int8 baseline of the same checkpoint on the same probes and this CPU (its agreement with the
  original model), less the preset's margin (config.Tolerance). A failure means the export is wrong and, in strict
  mode, nothing is written.
- fidelity (what does compression cost?): the shipped model against the original fp32 PyTorch model. Reported,
  never a failure: accuracy on real data (evaluate.py) is the measure that matters.
With --embedding none the two references are the same model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from runtime_py.parity import Agreement, agreement, compares_labels, row_similarity
from runtime_py.session import ModelSession

from .config import Tolerance
from .evaluate import pooled
from .probes import ProbeBatch, single
from .targets.base import ModelFiles

EXPORT_ATOL = 1e-4


@dataclass(frozen=True)
class Required:
    """What the shipped model must reach on the probes: the baseline's agreement less the margins."""

    min_cosine: float
    min_top1_agreement: float
    baseline_min_cosine: float
    baseline_top1_agreement: float | None
    min_cosine_margin: float
    lossy_parts: list[str]  # the compressed parts that widened the margin

    @classmethod
    def below(cls, baseline: Agreement, tolerance: Tolerance, lossy_parts: list[str]) -> Required:
        margin = tolerance.margin_for(len(lossy_parts))
        top1 = 0.0 if baseline.top1_agreement is None else baseline.top1_agreement - tolerance.top1_agreement_margin
        # 4 decimals, rounded down: bundle.json carries this figure to every runtime's self-check, which must pass
        # wherever the exporter's own check passed; and within what a cosine and a share can be, which both
        # runtimes require of bundle.json (a baseline near -1 less the margin, a top-1 margin over a low baseline)
        return cls(
            min_cosine=max(-1.0, math.floor((baseline.min_cosine - margin) * 1e4) / 1e4),
            min_top1_agreement=max(0.0, math.floor(top1 * 1e4) / 1e4),
            baseline_min_cosine=baseline.min_cosine,
            baseline_top1_agreement=baseline.top1_agreement,
            min_cosine_margin=margin,
            lossy_parts=lossy_parts,
        )


@dataclass
class Parity:
    min_cosine: float
    max_abs_diff: float
    top1_agreement: float | None
    export_max_abs_diff: float
    batch_vs_single_max_abs_diff: float
    tolerance: dict[str, float | None]  # Required, as a dict
    undecided_probes: int = 0  # classifier probes the reference cannot tell apart (runtime_py.parity.decided_rows)
    # what min_cosine measures: each probe's cosine, or for a one-output model the concordance of its scores
    # across the probes (runtime_py.parity.row_similarity)
    measure: str = "cosine"
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


@dataclass
class Fidelity:
    min_cosine: float
    mean_cosine: float
    max_abs_diff: float
    top1_agreement: float | None


def torch_batch_outputs(module: torch.nn.Module, batch: ProbeBatch) -> np.ndarray:
    """A torch module's outputs on one padded batch."""
    with torch.no_grad():
        return module(*(torch.from_numpy(batch.inputs[n]) for n in batch.inputs)).numpy()


def ort_session(files: ModelFiles) -> ModelSession:
    """The model on ORT's CPU provider, its load-time weights model (if any) run once."""
    return ModelSession(files.model, files.weights)


def ort_probe_outputs(
    files: ModelFiles, batch: ProbeBatch, pooling: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(outputs of the padded batch, outputs of each probe run alone). `pooling`: pool the first output (a
    last_hidden_state, as optimum exports an embedder) into the bundle's normalised sentence vectors."""
    session = ort_session(files)

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        output = session.run(inputs)
        return pooled(pooling)(output, inputs["attention_mask"]) if pooling else output

    return run(batch.inputs), np.concatenate([run(single(batch, i)) for i in range(len(batch.texts))])


def baseline_agreement(
    baseline_model: Path, batch: ProbeBatch, original: np.ndarray, classifier: bool, pooling: str | None
) -> Agreement:
    """The optimum/ORT int8 baseline against the original fp32 model on the probes (padded batch and alone): what
    int8 costs this checkpoint on this CPU, the yardstick of the bundle's export parity. `pooling`: how to pool an
    embedder's last_hidden_state (None for classifiers)."""
    batched, alone = ort_probe_outputs(ModelFiles(baseline_model), batch, pooling)
    return agreement(np.concatenate([batched, alone]), np.concatenate([original, original]), classifier)


def compare(
    reference: np.ndarray,
    batched: np.ndarray,
    alone: np.ndarray,
    export_diff: float,
    classifier: bool,
    required: Required,
) -> Parity:
    candidates = np.concatenate([batched, alone])
    references = np.concatenate([reference, reference])
    agreed = agreement(candidates, references, classifier)
    parity = Parity(
        min_cosine=agreed.min_cosine,
        max_abs_diff=agreed.max_abs_diff,
        top1_agreement=agreed.top1_agreement,
        export_max_abs_diff=export_diff,
        batch_vs_single_max_abs_diff=float(np.abs(batched - alone).max()),
        tolerance=asdict(required),
        undecided_probes=agreed.undecided // 2,
        measure="concordance" if agreed.one_output else "cosine",
    )
    if not export_diff <= EXPORT_ATOL:  # NaN too
        parity.failures.append(f"fp32 ONNX differs from PyTorch by {export_diff:.2e} (> {EXPORT_ATOL:g})")
    for failure in agreed.failures(required.min_cosine, required.min_top1_agreement):
        if failure.startswith(agreed.measure):
            failure += (f" (the int8 baseline's {required.baseline_min_cosine:.4f} on these probes, less "
                        f"{required.min_cosine_margin:g})")  # fmt: skip
        parity.failures.append(failure)
    return parity


def fidelity(original: np.ndarray, batched: np.ndarray, alone: np.ndarray, classifier: bool) -> Fidelity:
    candidates = np.concatenate([batched, alone])
    references = np.concatenate([original, original])
    cosines = row_similarity(candidates, references)
    labelled = compares_labels(classifier, references)
    return Fidelity(
        min_cosine=float(cosines.min()),
        mean_cosine=float(cosines.mean()),
        max_abs_diff=float(np.abs(candidates - references).max()),
        top1_agreement=float((candidates.argmax(-1) == references.argmax(-1)).mean()) if labelled else None,
    )


def export_max_abs_diff(onnx_fp32: Path, compressed_reference: np.ndarray, batch: ProbeBatch) -> float:
    batched, alone = ort_probe_outputs(ModelFiles(onnx_fp32), batch)
    return float(max(np.abs(batched - compressed_reference).max(), np.abs(alone - compressed_reference).max()))
