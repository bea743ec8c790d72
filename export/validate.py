"""Stage 6: run the bundle's model in onnxruntime on the probes and compare with PyTorch.

Three comparisons:
- export check: the fp32 ONNX graph against the PyTorch model carrying the same (compressed) embedding, at a
  strict tolerance; a failure means the export itself is wrong.
- parity: the shipped (quantized, converted) model against the original fp32 PyTorch model, in one padded batch
  and one probe at a time: max abs diff, min cosine, top-1 agreement for classifiers.
- the preset's tolerance decides pass/fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

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
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


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


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


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
    top1 = float((candidates.argmax(-1) == references.argmax(-1)).mean()) if classifier else None
    parity = Parity(
        min_cosine=float(cosine_rows(candidates, references).min()),
        max_abs_diff=float(np.abs(candidates - references).max()),
        top1_agreement=top1,
        export_max_abs_diff=export_diff,
        batch_vs_single_max_abs_diff=float(np.abs(batched - alone).max()),
        tolerance=asdict(tolerance),
    )
    if export_diff > EXPORT_ATOL:
        parity.failures.append(f"fp32 ONNX differs from PyTorch by {export_diff:.2e} (> {EXPORT_ATOL:g})")
    if parity.min_cosine < tolerance.min_cosine:
        parity.failures.append(f"min cosine {parity.min_cosine:.4f} < {tolerance.min_cosine}")
    if top1 is not None and top1 < tolerance.min_top1_agreement:
        parity.failures.append(f"top-1 agreement {top1:.3f} < {tolerance.min_top1_agreement}")
    return parity


def export_max_abs_diff(onnx_fp32: Path, compressed_reference: np.ndarray, batch: ProbeBatch) -> float:
    batched, alone = ort_outputs(onnx_fp32, batch)
    return float(max(np.abs(batched - compressed_reference).max(), np.abs(alone - compressed_reference).max()))
