"""Typed configuration: one ExportConfig per run, each stage reads only its own slice."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Tolerance:
    """How close the bundle must stay to the PyTorch model with the same embedding, on the probe texts.

    The int8 encoder alone costs all-MiniLM-L6-v2 0.991 min cosine (`python -m export bert`). On the embeddings a
    lossy method decodes it costs more: int4 0.990 and svd at 8x 0.972, the 3-token probe "Hi" (`python -m export
    bert --embedding int4`, `--embedding svd --ratio 8`), lighttoken at 25x 0.989 (benchmarks/sweep.py, STS-B row).
    Those get `lossy_min_cosine`: still far above what a broken export gives, and the fp32 graph is separately held
    to PyTorch within 1e-4 for every method.
    """

    min_cosine: float = 0.99
    min_top1_agreement: float = 0.99
    lossy_min_cosine: float = 0.95

    def for_embedding(self, lossy: bool) -> Tolerance:
        return replace(self, min_cosine=self.lossy_min_cosine) if lossy else self


@dataclass(frozen=True)
class EmbeddingConfig:
    method: str = "none"
    ratio: float | None = None  # None: the method's own default (methods without a ratio refuse one)
    seed: int = 0


@dataclass(frozen=True)
class Preset:
    """Defaults for one model family, read from models/<name>.toml."""

    name: str
    description: str
    model_types: tuple[str, ...]
    checkpoint: str
    task: str
    pooling: str
    max_length: int
    tolerance: Tolerance
    embedding: EmbeddingConfig  # used when --embedding is not given


@dataclass(frozen=True)
class DistillConfig:
    text: Path | None = None  # unlabelled text (.txt file or folder); None: no distillation
    steps: int = 300
    learning_rate: float = 1e-4
    batch: int = 32  # passages per step
    max_tokens: int = 64  # per passage
    seed: int = 0


@dataclass(frozen=True)
class QuantizeConfig:
    mode: str = "int8-dynamic"  # or "none"
    # SmoothQuant-style rescaling before int8-dynamic, chosen per Linear group (see smooth.py).
    smooth: bool = True


@dataclass(frozen=True)
class ExportConfig:
    preset: Preset
    checkpoint: str
    task: str | None  # None: picked from the checkpoint
    target: str
    out: Path
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    evaluate: Path | None = None  # a GLUE task folder or TSV (datasets.py); None: no accuracy step
    sweep: Path | None = None  # benchmarks/sweep.py's CSV, drawn as Pareto curves in report.html
    force: bool = False
    strict: bool = True
    opset: int = 14  # inside the 12-15 range of ORT's legacy mobile operator set
