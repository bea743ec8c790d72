"""Typed configuration: one ExportConfig per run, each stage reads only its own slice."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UserInputError
from .typed_fields import check_value, plain_fields

if TYPE_CHECKING:
    from .embedding import EmbeddingMethod
    from .encoder import EncoderMethod


@dataclass(frozen=True)
class Tolerance:
    """How far the bundle's export parity may fall below the optimum/ORT int8 baseline's, on the same probes, in
    the same run, on the same machine.

    Both measure what an int8 encoder costs: the bundle against the PyTorch model carrying the same embedding, the
    baseline against the original model. ORT's int8 kernels round differently on each CPU (AVX2, AVX-512 VNNI,
    ARM), so a fixed floor that one CPU meets another misses; the baseline moves with the CPU, the margin does
    not. Each lossy part (a compressed table whose rows differ from the original's, an encoder stored in 4 bits or
    factorised) adds the wider margin: int8 errs more on what they compute.
    The margins and the figures behind them: docs/parity.md.
    """

    min_cosine_margin: float = 0.01
    lossy_min_cosine_margin: float = 0.04
    top1_agreement_margin: float = 0.0  # classifiers: agree with the reference on as many decided probes

    def margin_for(self, lossy_parts: int) -> float:
        """The min-cosine margin for a model with this many lossy compressed parts."""
        return self.lossy_min_cosine_margin * lossy_parts if lossy_parts else self.min_cosine_margin


@dataclass(frozen=True)
class Preset:
    """Defaults for one model family, read from models/<name>.toml."""

    name: str
    description: str
    model_types: tuple[str, ...]
    checkpoint: str
    pooling: str
    max_length: int
    tolerance: Tolerance
    embedding: EmbeddingMethod  # used when --embedding is not given


DISTILL_DEVICES = ("auto", "cpu", "cuda")
# The fewest tokens a bundle may truncate to: a pair's special tokens (four for BPE: <s> A </s></s> B </s>) and a
# token of each text, what runtime_py's and the Java core's pair check asks
MIN_MAX_LENGTH = 6


@dataclass(frozen=True)
class DistillConfig:
    text: Path | None = None  # unlabelled text (.txt file or folder); None: no distillation
    steps: int = 300
    learning_rate: float | None = None  # None: the encoder method's (EncoderMethod.distill_rate)
    attention: bool | None = None  # match the last layer's attention too; None: the encoder method's choice
    sentence: bool | None = None  # match an embedder's sentence embeddings too; None: the encoder method's choice
    batch: int = 32  # passages per step
    max_tokens: int = 64  # per passage
    device: str = "auto"  # where training runs: "cpu", "cuda", or "auto" (a CUDA GPU when torch sees one)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _path_or_none(self.text, "distill"))  # a str works as a path
        plain_fields(self)


@dataclass(frozen=True)
class VocabConfig:
    text: Path | None = None  # the deployment domain's text (as for DistillConfig); None: keep the vocabulary
    min_count: int = 1  # keep a piece when the text uses it at least this often
    common: int = 0  # and the tokenizer's this many most common pieces, whatever the text (vocab/prune.py)
    # the ratio the rows the text does not use are kept at (lighttoken codes), the tokenizer left as it is;
    # None: drop them and rewrite the tokenizer (embedding/domain_rest.py)
    rest: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _path_or_none(self.text, "vocab"))
        plain_fields(self)


def _path_or_none(text: str | Path | None, label: str) -> Path | None:
    check_value(text, "PathLike | None", f"{label} text")
    return None if text is None else non_empty_path(text, f"{label} text")


def expanded(path: str | Path) -> Path:
    """`path` with ~ and ~user expanded as a shell does: a user this machine does not know leaves it as written
    (Path.expanduser raised a RuntimeError)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def non_empty_path(value: str | Path, label: str) -> Path:
    """An empty string is no path: Path("") would be the working folder, read or written in its place."""
    if not str(value).strip():
        raise UserInputError(f"{label} is empty; give a path")
    return Path(value)


@dataclass(frozen=True)
class ExportConfig:
    preset: Preset
    checkpoint: str
    task: str | None  # None: picked from the checkpoint
    target: str
    out: Path
    embedding: EmbeddingMethod
    encoder: EncoderMethod
    seed: int = 0  # draws trained fits' starts (the embedding's, distillation's dropout and batches)
    # SmoothQuant-style rescaling before an encoder method's int8 pass, chosen per Linear group (see smooth.py)
    smooth: bool = True
    distill: DistillConfig = field(default_factory=DistillConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    evaluate: Path | None = None  # a GLUE task folder or TSV (datasets.py); None: no accuracy step
    sweep: Path | None = None  # benchmarks/sweep.py's CSV, drawn as Pareto curves in report.html
    force: bool = False
    strict: bool = True
    opset: int = 14  # inside the 12-15 range of ORT's legacy mobile operator set

    def __post_init__(self) -> None:
        plain_fields(self)  # a numpy seed as the int it holds

    @property
    def drawn(self) -> bool:
        """Does the seed change the bundle? It draws a trained table's start (lighttoken, direction-ae),
        distillation's held-out and calibration passages, their order and dropout, and --vocab-rest's codes
        (lighttoken whatever --embedding is); nothing else reads it."""
        return self.embedding.stochastic or self.distill.text is not None or self.vocab.rest is not None

    def reading(self, max_length: int) -> ExportConfig:
        """This configuration for a checkpoint that reads at most `max_length` tokens, fewer than the preset's."""
        distill = self.distill  # its passages held to max_length too, where there are any
        if distill.text is not None:
            distill = replace(distill, max_tokens=min(distill.max_tokens, max_length))
        return replace(self, preset=replace(self.preset, max_length=max_length), distill=distill)

    def to_json(self, task: str) -> dict[str, Any]:
        """The run's resolved configuration, every stage's slice, for report.json (`task`: the one chosen)."""
        return {
            "preset": self.preset.name,
            "checkpoint": self.checkpoint,
            "task": task,
            "target": self.target,
            "max_length": self.preset.max_length,
            "embedding": self.embedding.to_json(),
            "seed": self.seed,
            "distill": {**asdict(self.distill), "text": _text(self.distill.text)},
            "vocab": {**asdict(self.vocab), "text": _text(self.vocab.text)},
            "encoder": self.encoder.to_json(),
            "smooth": self.smooth,
            "tolerance": asdict(self.preset.tolerance),
            "evaluate": _text(self.evaluate),
            "opset": self.opset,
            "strict": self.strict,
        }


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)
