"""Stage 6: run the bundle's model in onnxruntime on the probes and compare with PyTorch.

Two questions, answered apart:
- parity (does the export do what the PyTorch model does?): the fp32 ONNX graph against the PyTorch model
  carrying the same compressed embedding at EXPORT_ATOL, and the shipped (quantized, converted) model against
  that same PyTorch model, in one padded batch and one probe at a time, at the preset's tolerance. A failure
  means the export is wrong and, in strict mode, nothing is written.
- fidelity (what does compression cost?): the shipped model against the original fp32 PyTorch model. Reported,
  never a failure: accuracy on real data (evaluate.py) is the measure that matters.
With --embedding none the two references are the same model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from runtime_py.parity import agreement, cosine

from .config import Tolerance
from .probes import ProbeBatch, single

EXPORT_ATOL = 1e-4


@dataclass
class Parity:
    min_cosine: float
    max_abs_diff: float
    top1_agreement: float | None
    export_max_abs_diff: float
    batch_vs_single_max_abs_diff: float
    tolerance: dict[str, float]
    undecided_probes: int = 0  # classifier probes the reference cannot tell apart (runtime_py.parity.decided_rows)
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


def torch_outputs(graph: torch.nn.Module, batch: ProbeBatch) -> np.ndarray:
    with torch.no_grad():
        return graph(*(torch.from_numpy(batch.inputs[n]) for n in batch.inputs)).numpy()


def ort_session(model_path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def ort_outputs(model_path: Path, batch: ProbeBatch) -> tuple[np.ndarray, np.ndarray]:
    """(outputs of the padded batch, outputs of each probe run alone)."""
    session = ort_session(model_path)
    batched = session.run(None, batch.inputs)[0]
    alone = np.concatenate([session.run(None, single(batch, i))[0] for i in range(len(batch.texts))])
    return batched, alone


def compare(
    reference: np.ndarray,
    batched: np.ndarray,
    alone: np.ndarray,
    export_diff: float,
    classifier: bool,
    tolerance: Tolerance,
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
        tolerance=asdict(tolerance),
        undecided_probes=agreed.undecided // 2,
    )
    if export_diff > EXPORT_ATOL:
        parity.failures.append(f"fp32 ONNX differs from PyTorch by {export_diff:.2e} (> {EXPORT_ATOL:g})")
    parity.failures += agreed.failures(tolerance.min_cosine, tolerance.min_top1_agreement)
    return parity


def fidelity(original: np.ndarray, batched: np.ndarray, alone: np.ndarray, classifier: bool) -> Fidelity:
    candidates = np.concatenate([batched, alone])
    references = np.concatenate([original, original])
    cosines = cosine(candidates, references)
    return Fidelity(
        min_cosine=float(cosines.min()),
        mean_cosine=float(cosines.mean()),
        max_abs_diff=float(np.abs(candidates - references).max()),
        top1_agreement=float((candidates.argmax(-1) == references.argmax(-1)).mean()) if classifier else None,
    )


def export_max_abs_diff(onnx_fp32: Path, compressed_reference: np.ndarray, batch: ProbeBatch) -> float:
    batched, alone = ort_outputs(onnx_fp32, batch)
    return float(max(np.abs(batched - compressed_reference).max(), np.abs(alone - compressed_reference).max()))
