"""The Python API: `build()` exports one bundle, exactly as `python -m export` does (the CLI calls it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from .cache import Cache
from .config import DistillConfig, ExportConfig, VocabConfig, non_empty_path
from .embedding import EmbeddingMethod
from .encoder import EncoderMethod, make_encoder
from .errors import UserInputError
from .presets import load_preset
from .typed_fields import check_value


@dataclass(frozen=True)
class ExportResult:
    """A written bundle: its folder and report.json's content."""

    out: Path
    report: dict[str, Any]

    @property
    def sizes(self) -> dict[str, Any]:
        return self.report["size"]

    @property
    def parity(self) -> dict[str, Any]:
        return self.report["parity"]

    @property
    def accuracy(self) -> dict[str, Any] | None:
        """Scores on the `evaluate` set (original fp32, int8 baseline, bundle); None without one."""
        return self.report["accuracy"]


def build(
    preset: str = "bert",
    *,
    model: str | None = None,
    target: str = "onnx-mobile",
    task: str | None = None,
    embedding: EmbeddingMethod | None = None,
    encoder: EncoderMethod | None = None,
    evaluate: str | Path | None = None,
    distill: str | Path | DistillConfig | None = None,
    vocab: str | Path | VocabConfig | None = None,
    out: str | Path | None = None,
    force: bool = False,
    strict: bool = True,
    seed: int = 0,
    progress: bool = True,
    sweep: str | Path | None = None,
    cache: Cache | None = None,
) -> ExportResult:
    """Export `model` (default: the preset's checkpoint) to a validated bundle folder and return where it went.

    `embedding` is a method with its settings, e.g. `LightToken(ratio=50)` or `Svd(ratio=8)`; None takes the
    preset's. `encoder` stores the encoder's linear layers, e.g. `Int4Encoder()`; None is dynamic int8, as the
    baseline. `distill` is unlabelled text (a path; `DistillConfig` sets the steps, the rate and the device too:
    a CUDA GPU by default when torch sees one). `vocab` is the deployment domain's text: only the token rows it
    uses (and a fallback alphabet) are kept, the tokenizer rewritten to match (a path; `VocabConfig` sets the
    minimum count too, and `rest`: the other rows kept as codes at that ratio, the tokenizer unchanged). `out`
    defaults to bundles/PRESET-METHOD. Raises UserInputError for input the caller can fix (nothing is written)
    and ParityError when the bundle falls short of the int8 baseline's parity (nothing is written unless
    strict=False). `progress=False` prints nothing. `sweep`: benchmarks/sweep.py's CSV, drawn
    in report.html. `cache` (`with export.Cache() as cache: ...`) shares the int8 baseline and reference scores
    between builds of the same checkpoint.
    """
    config = export_config(
        preset, model=model, target=target, task=task, embedding=embedding, encoder=encoder, evaluate=evaluate,
        distill=distill, vocab=vocab, out=out, force=force, strict=strict, seed=seed, sweep=sweep,
    )  # fmt: skip
    _check_run_arguments(progress, cache)
    with quiet_libraries():
        from . import pipeline  # torch, transformers and onnxruntime: only once there is something to build

        report = pipeline.run(config, Console(stderr=True, quiet=not progress), cache)
    return ExportResult(config.out, report)


def search(
    preset: str = "bert",
    *,
    max_drop: float,
    evaluate: str | Path,
    model: str | None = None,
    target: str = "onnx-mobile",
    task: str | None = None,
    distill: str | Path | DistillConfig | None = None,
    vocab: str | Path | VocabConfig | None = None,
    objective: str = "size",
    search_minutes: float = 45.0,
    seeds: int = 2,
    space: list | None = None,
    out: str | Path | None = None,
    force: bool = False,
    strict: bool = True,
    progress: bool = True,
    cache: Cache | None = None,
) -> ExportResult:
    """The smallest bundle (`objective="latency"`: the fastest) whose accuracy drop against the optimum/ORT int8
    baseline stays within `max_drop` points (the metric ×100: 0.5 is half an accuracy point or 0.005 of Spearman)
    on `evaluate`, the user's labelled data: half of it ranks the candidates, the other half confirms the choice.
    Candidates: the token-table method and ratio, the encoder method, with and without `vocab` and `distill` when
    given (`space`: a list of export.budget.Candidate instead; `seeds`: the seeds of a stochastic fit, the worst
    counting). Stops starting candidates after `search_minutes`; an interrupted search resumes from its work folder
    beside `out` (default bundles/PRESET-search). Raises export.budget.NothingWithinBudget (a ParityError) when no
    candidate is within budget, unless strict=False, which writes the closest."""
    config = export_config(
        preset, model=model, target=target, task=task, evaluate=evaluate, distill=distill, vocab=vocab,
        out=out if out is not None else Path("bundles") / f"{preset}-search", force=force, strict=strict,
    )  # fmt: skip
    _check_run_arguments(progress, cache)
    with quiet_libraries():
        from .budget import SearchSettings, run_search  # torch and the pipeline: only once there is something to do

        settings = SearchSettings(max_drop=max_drop, objective=objective, minutes=search_minutes, seeds=seeds)
        console = Console(stderr=True, quiet=not progress)
        if cache is None:
            with Cache() as own:
                return ExportResult(config.out, run_search(config, settings, console, own, space))
        return ExportResult(config.out, run_search(config, settings, console, cache, space))


def _check_run_arguments(progress: object, cache: object) -> None:
    """build()'s and search()'s own arguments, refused before any work (a wrong cache failed after compressing)."""
    check_value(progress, "bool", "progress")
    if cache is not None and not isinstance(cache, Cache):
        raise UserInputError(f"cache must be an export.Cache or None (got {cache!r})")


def export_config(
    preset: str = "bert",
    *,
    model: str | None = None,
    target: str = "onnx-mobile",
    task: str | None = None,
    embedding: EmbeddingMethod | None = None,
    encoder: EncoderMethod | None = None,
    evaluate: str | Path | None = None,
    distill: str | Path | DistillConfig | None = None,
    vocab: str | Path | VocabConfig | None = None,
    out: str | Path | None = None,
    force: bool = False,
    strict: bool = True,
    seed: int = 0,
    sweep: str | Path | None = None,
) -> ExportConfig:
    """build()'s arguments (with the same defaults) as the pipeline's ExportConfig, the preset's defaults filled
    in; for callers that run stages themselves (benchmarks/fit_spread.py)."""
    arguments = {"preset": (preset, "str"), "model": (model, "PathLike | None"), "target": (target, "str"),
                 "task": (task, "str | None"), "evaluate": (evaluate, "PathLike | None"),
                 "out": (out, "PathLike | None"), "sweep": (sweep, "PathLike | None"), "force": (force, "bool"),
                 "strict": (strict, "bool")}  # fmt: skip
    for name, (value, declared) in arguments.items():
        check_value(value, declared, name)
    chosen = load_preset(preset)
    embedding = chosen.embedding if embedding is None else embedding
    if not isinstance(embedding, EmbeddingMethod):
        raise UserInputError(f"embedding must be a method such as export.LightToken(ratio=25), not {embedding!r}")
    encoder = make_encoder() if encoder is None else encoder
    if not isinstance(encoder, EncoderMethod):
        raise UserInputError(f"encoder must be a method such as export.Int4Encoder(), not {encoder!r}")
    if not isinstance(distill, DistillConfig):
        distill = DistillConfig(text=distill)
    if not isinstance(vocab, VocabConfig):
        vocab = VocabConfig(text=vocab)
    return ExportConfig(
        preset=chosen,
        checkpoint=chosen.checkpoint if model is None else _model_as_given(model),
        task=task,
        target=target,
        out=non_empty_path(out, "out") if out is not None else Path("bundles") / f"{chosen.name}-{embedding.name}",
        embedding=embedding,
        encoder=encoder,
        seed=seed,
        distill=distill,
        vocab=vocab,
        evaluate=None if evaluate is None else non_empty_path(evaluate, "evaluate"),
        sweep=None if sweep is None else non_empty_path(sweep, "sweep"),
        force=force,
        strict=strict,
    )


def _model_as_given(model: str | Path) -> str:
    """The checkpoint as the caller wrote it (report.json keeps it so; bundle.json names the folder itself)."""
    non_empty_path(model, "model")
    return str(model)


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Library chatter (ORT's pre-processing hint, converter INFO lines, optimum's accelerate notice) would
    bury the progress display; errors still come through. The libraries' own loggers stay quiet after; the root
    logger, the caller's, is as it was."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from onnxruntime.tools.ort_format_model import utils as ort_format_utils
    from optimum.utils import logging as optimum_logging
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    # Both set their loggers' levels when first used, over any set before: optimum's root logger on its first
    # get_logger, ORT's operator-config logger to DEBUG on import. So each is set through its own module.
    optimum_logging.set_verbosity_error()
    ort_format_utils.log.setLevel(logging.ERROR)
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    # onnxruntime.quantization logs through logging.warning(), on the root logger, which also gives a root without
    # handlers a stderr handler for good (basicConfig): for the while, such a root holds a NullHandler, and a filter
    # drops onnxruntime's records
    root = logging.getLogger()
    added = [] if root.handlers else [logging.NullHandler()]
    quiet = _FromOnnxRuntime()
    for handler in added:
        root.addHandler(handler)
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)
        for handler in added:
            root.removeHandler(handler)


class _FromOnnxRuntime(logging.Filter):
    """Drops the records onnxruntime's modules log on the root logger below ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or "onnxruntime" not in Path(record.pathname).parts
