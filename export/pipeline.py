"""The export pipeline. Its stages, as the progress display names them ([optional]):

    load → reference → [score fp32] → [vocab] → compress → [distill] → [smooth] → export → quantize → convert
    → baseline → validate → [evaluate] → bundle → report

With --vocab, `loaded` stays the original checkpoint (the baseline and the fp32 scores read it) and `deployed` is
the model with the pruned tokenizer and table, which every stage from compress on works with; with --vocab-rest,
`deployed` is the original model and tokenizer, marked with the rows the text uses (compress keeps the others as
codes).

Each stage is a function that takes the values earlier stages returned and returns its own; none changes a value
it was given. Models are torch modules (`model`: the HF model, `module`: it with the task head, what is traced)
until `export`; from there on they are ONNX files (`onnx_model`, a path; `graph`, a loaded ModelProto).
Intermediate files live in a scratch folder; the bundle is assembled in a staging folder beside --out and moved
into place only when complete (and, in strict mode, only when parity passes).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from . import bundle, report
from .baseline import Baseline, build_baseline, encoder_scope
from .cache import Cache
from .charts import check_sweep
from .config import ExportConfig
from .datasets import data_file, read_examples, read_texts
from .distill import Passage, device_name, read_passages, training_device
from .embedding import NoCompression
from .errors import ParityError, UserInputError
from .load import load
from .progress import Stages
from .stages import (
    CompressedModel,
    bundle_manifest,
    check_parity,
    compress_model,
    distill_encoder,
    evaluate_accuracy,
    export_compressed,
    fp32_reference,
    prune_vocabulary,
    sizes,
    smooth_for_int8,
)
from .targets import Target, get_target
from .tasks import TASKS
from .typed_fields import check_field_types, whole_number

MAX_SEED = 2**32 - 1  # within the range of every generator the seed reaches (torch, numpy, random)
MAX_DISTILL_STEPS = 100_000  # about 33 hours for MiniLM-L6 on 2 cores: more is a typo's extra digits


def check_config(config: ExportConfig) -> ExportConfig:
    """Everything that can be refused without loading a model."""
    bundle.check_output_folder(config.out, config.force)
    check_field_types(config.distill, "distill")
    check_field_types(config.vocab, "vocab")
    if not whole_number(config.seed):
        raise UserInputError(f"--seed must be a whole number (got {config.seed!r})")
    if not 0 <= config.seed <= MAX_SEED:
        raise UserInputError(f"--seed must be between 0 and {MAX_SEED} (got {config.seed})")
    get_target(config.target)
    config.encoder.check()
    if config.task is not None and config.task not in TASKS:
        raise UserInputError(f"unknown task '{config.task}'; choose one of: {', '.join(TASKS)}")
    if config.evaluate is not None:
        read_examples(config.evaluate)
    if config.sweep is not None:
        check_sweep(config.sweep)
    for settings, flag in ((config.distill, "--distill"), (config.vocab, "--vocab")):
        if settings.text is None and settings != type(settings)():  # the CLI refuses the flags; this, the API's
            raise UserInputError(f"{type(settings).__name__} settings without a text do nothing; give it text= "
                                 f"({flag} TEXT)")  # fmt: skip
    if config.distill.text is not None:
        _refuse_untrainable_text(config.distill.text)
        if not 1 <= config.distill.steps <= MAX_DISTILL_STEPS:
            raise UserInputError(f"--distill-steps must be from 1 to {MAX_DISTILL_STEPS:,} (got "
                                 f"{config.distill.steps})")  # fmt: skip
        if config.distill.batch < 1 or not 2 <= config.distill.max_tokens <= config.preset.max_length:
            raise UserInputError(f"distill batch must be at least 1 passage and max_tokens from 2 to the preset's "
                                 f"max_length {config.preset.max_length} (got {config.distill.batch}, "
                                 f"{config.distill.max_tokens})")  # fmt: skip
        rate = config.distill.learning_rate
        if rate is not None and not 0 < rate < 1:
            raise UserInputError(f"--distill-lr must be a learning rate between 0 and 1 (got {rate})")
        _refuse_the_scored_file(config, config.distill.text, "--distill", "the model was trained on")
        if isinstance(config.embedding, NoCompression) and config.vocab.rest is None and not config.encoder.lossy:
            # the student would start as the teacher: a loss of 0, which training with dropout on only raises
            rounded = " (int8 rounds it only at export)" if config.encoder.name == "int8" else ""
            raise UserInputError(f"--distill heals a compressed table or encoder, and with --embedding none and "
                                 f"--encoder {config.encoder.name} the model is the original{rounded}: leave "
                                 "--distill out, or compress the table or the encoder")  # fmt: skip
        training_device(config.distill.device)
    if config.vocab.text is not None:
        if not read_texts(config.vocab.text, "vocabulary text"):
            raise UserInputError(f"vocabulary text {config.vocab.text} has no text")
        if config.vocab.min_count < 1:
            raise UserInputError(f"--vocab-min-count must be at least 1 (got {config.vocab.min_count})")
        if config.vocab.common < 0:
            raise UserInputError(f"--vocab-common must be 0 or more (got {config.vocab.common})")
        if config.vocab.rest is not None and not 1 < config.vocab.rest < math.inf:
            raise UserInputError(f"--vocab-rest must be a finite ratio above 1 (got {config.vocab.rest:g})")
        _refuse_the_scored_file(config, config.vocab.text, "--vocab", "the vocabulary was chosen on")
    config.embedding.check()
    return config


def _refuse_untrainable_text(text: Path) -> None:
    """Whether the model reads pairs is known once it loads: here, before that, only text that neither reading
    (single texts, or a table's rows as pairs) can train on is refused."""
    try:
        read_passages(text)
    except UserInputError:
        read_passages(text, pairs=True)


def _refuse_the_scored_file(config: ExportConfig, text: Path, flag: str, what: str) -> None:
    if config.evaluate is not None and data_file(config.evaluate).resolve() == text.resolve():
        raise UserInputError(f"{flag} and --evaluate name the same file: a score on text {what} measures nothing")


def run(config: ExportConfig, console: Console, cache: Cache | None = None) -> dict[str, Any]:
    """Export one bundle; returns report.json's content. Pass `cache` to share the baseline and the fp32 and
    baseline scores between exports of the same checkpoint."""
    if cache is None:
        with Cache() as own:
            return run(config, console, own)
    config = check_config(config)
    started = time.perf_counter()
    stages = Stages(console)
    target, encoder = get_target(config.target), config.encoder
    with (
        tempfile.TemporaryDirectory(prefix="bert-edge-") as scratch,
        bundle.staging_folder(config.out) as staging,
    ):
        work = Path(scratch)
        with stages("load", config.checkpoint):
            examples = read_examples(config.evaluate) if config.evaluate is not None else None
            loaded = load(config, pairs=examples is not None and examples.pairs)
        passages = None if config.distill.text is None else read_passages(config.distill.text, loaded.task.pairs)
        if loaded.max_length < config.preset.max_length:
            console.print(f"note: the checkpoint reads at most {loaded.max_length} tokens; the bundle truncates "
                          f"there, not at the preset's {config.preset.max_length}")  # fmt: skip
            config = config.reading(loaded.max_length)
        if config.seed and not config.drawn:  # recorded in bundle.json all the same
            console.print(f"note: --seed {config.seed} changes nothing in this export: nothing is drawn from it "
                          "(a trained table, --distill or --vocab-rest would be)", soft_wrap=True)  # fmt: skip
        if loaded.normalized_by_the_bundle and loaded.output_pooling is not None:
            console.print("note: the checkpoint's sentence-transformers modules do not normalise; the bundle's "
                          "vectors are its own at unit length (the same cosines, other dot products)")  # fmt: skip
        with stages("reference", "fp32 outputs on the golden probes"):
            reference = fp32_reference(config, loaded, examples, cache)
        if reference.evaluation is not None:
            data = reference.evaluation.data
            with stages("score fp32", f"{data.dataset}, {len(data.texts)} texts"):
                reference = reference.scored(loaded)
        deployed, pruning = loaded, None
        if config.vocab.text is not None:
            with stages("vocab", f"token rows {config.vocab.text} uses"):
                evaluation_texts = examples and [*examples.texts, *(examples.text_pairs or [])]
                deployed, pruning = prune_vocabulary(config, loaded, evaluation_texts)
                if deployed.tokenizer is not loaded.tokenizer:
                    reference = reference.retokenized(config, deployed)
        with stages("compress", f"{config.embedding.name} table, {encoder.name} encoder"):
            compressed = compress_model(config, deployed, passages, cache)
        distilled = None
        if passages is not None:
            compressed, distilled = _distill(config, deployed, compressed, passages, stages)
        if encoder.smoothable and config.smooth:
            with stages("smooth", "per-group SmoothQuant scales"):
                compressed = smooth_for_int8(config, deployed, compressed)
        with stages("export", f"opset {config.opset}"):
            exported = export_compressed(config, deployed, compressed, reference.probes, work / "model-fp32.onnx")
        with stages("quantize", f"{encoder.name} encoder"):
            keep, encoder_nodes = exported.node_names()
            quantized = encoder.quantize(
                exported.onnx_model, keep, encoder_nodes, compressed.encoder_facts, work / "model-quantized.onnx"
            )
        with stages("convert", config.target):
            built = target.build(quantized, staging, encoder.decodes_at_load or loaded.architecture.computes_at_load)
            shipped = built.files_in(staging)
        with stages("baseline", "optimum export + ORT int8 (arm64)"):
            baseline = _baseline(config, loaded, target, cache)
        with stages("validate"):
            checked = check_parity(config, deployed, reference, exported, shipped, baseline)
        accuracy = None
        if reference.evaluation is not None:
            with stages("evaluate", f"baseline and bundle, {len(data.texts)} texts one at a time"):
                accuracy = evaluate_accuracy(deployed, reference, shipped, baseline)
        with stages("bundle", "tokenizer, golden.json, bundle.json"):
            manifest = bundle_manifest(config, deployed, reference, exported, checked, built, staging)
        with stages("report"):
            size = sizes(shipped, quantized, exported, compressed, baseline, deployed)
            result = report.build_report(
                config, manifest, built, size, checked, compressed, pruning, distilled, accuracy, stages.seconds,
                started,
            )
            report.write_reports(staging, result, config.sweep)
        if not checked.parity.passed and config.strict:
            raise ParityError(
                "parity check failed: " + "; ".join(checked.parity.failures) + " (--no-strict keeps the bundle anyway)"
            )
        bundle.publish(staging, config.out, config.force)
    report.print_summary(console, result, config.out)
    if not checked.parity.passed:
        console.print("[yellow]warning:[/] parity failed; bundle kept because of --no-strict")
    return result


def _distill(
    config: ExportConfig, loaded, compressed: CompressedModel, passages: list[Passage], stages
) -> tuple[CompressedModel, dict[str, Any]]:
    steps = config.distill.steps
    where = device_name(training_device(config.distill.device))
    about = f"{steps} steps on {len(passages)} passages from {config.distill.text}, on {where}"
    with stages("distill", about) as status:

        def show(step: int, loss: float) -> None:
            status.update(f"distill step {step + 1}/{steps}, loss {loss:.4f} …")

        return distill_encoder(config, loaded, compressed, passages, show)


def _baseline(config: ExportConfig, loaded, target: Target, cache: Cache) -> Baseline:
    encoder = encoder_scope(loaded.model)
    return cache.get(
        ("baseline", loaded.checkpoint_dir, loaded.checkpoint_digest, loaded.task.name, config.target),
        lambda folder: build_baseline(loaded.checkpoint_dir, loaded.task.optimum_task, folder, target, encoder),
    )
