"""The pipeline's stages between loading and reporting (pipeline.py is the map). Each takes typed values and
returns a new one; a stage that changes a torch model (compress, distill, smooth) works on its own copy, so the
loaded model stays the original fp32 checkpoint and every later stage sees exactly what it was given."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from runtime_py.manifest import (
    BundleTolerance,
    Manifest,
    ModelSpec,
    TensorSpec,
    TokenizerSpec,
    write_manifest,
)

from . import bundle, evaluate, vocab
from .baseline import Baseline
from .cache import Cache, contents_digest
from .config import ExportConfig
from .datasets import Examples, data_file, read_texts
from .distill import Passage, distill, encode_passages, split_passages
from .embedding.base import CompressedEmbedding
from .embedding.domain_rest import compress_with_rest
from .embedding.reachable import reachable_rows
from .embedding.token_stats import TokenStats
from .encoder import encoder_of
from .encoder.calibration import CALIBRATION_PASSAGES, input_moments
from .errors import UserInputError
from .load import LoadedModel, drop_leading_positions
from .onnx_export import export_onnx, scope_of
from .onnx_graph import load_graph, size_breakdown
from .parts import CompressedPart, lossy_parts, nodes_to_keep
from .probes import ProbeBatch
from .smooth import as_pairs, calibration_texts, smooth
from .targets.base import ModelFiles, TargetBuild
from .validate import (
    Fidelity,
    Parity,
    Required,
    baseline_agreement,
    compare,
    export_max_abs_diff,
    fidelity,
    ort_probe_outputs,
    torch_batch_outputs,
)

EMBEDDING_PART = "token embedding"  # the compressed parts every bundle has
ENCODER_PART = "encoder"


@dataclass(frozen=True)
class Reference:
    """What the original fp32 model gives: on the golden probes, and (with --evaluate) on the labelled set."""

    probes: ProbeBatch
    outputs: np.ndarray  # fp32 PyTorch on the probes
    evaluation: evaluate.Evaluation | None = None
    scores: np.ndarray | None = None  # fp32 PyTorch on the evaluation set's texts
    # With --vocab: the reference on the original tokenizer, the one the int8 baseline reads; `probes` and
    # `outputs` above are then the pruned tokenizer's and the pruned fp32 model's
    original: Reference | None = None

    def scored(self, loaded: LoadedModel) -> Reference:
        return replace(self, scores=self.evaluation.original_scores(loaded.task_module()))

    @property
    def as_the_baseline_reads_it(self) -> Reference:
        return self.original or self

    def retokenized(self, config: ExportConfig, deployed: LoadedModel) -> Reference:
        """The probes through `deployed`'s (pruned) tokenizer and fp32 model; the bundle is scored with that
        tokenizer too, while the original model and the baseline keep theirs."""
        probes = deployed.task.probes(deployed.tokenizer, deployed.input_names, config.preset.max_length)
        batcher = evaluate.TextBatcher(deployed.tokenizer, deployed.input_names, config.preset.max_length)
        evaluation = self.evaluation and replace(self.evaluation, bundle_encoder=batcher)
        outputs = torch_batch_outputs(deployed.task_module(), probes)
        return replace(self, probes=probes, outputs=outputs, evaluation=evaluation, original=self)


def fp32_reference(config: ExportConfig, loaded: LoadedModel, examples: Examples | None, cache: Cache) -> Reference:
    probes = loaded.task.probes(loaded.tokenizer, loaded.input_names, config.preset.max_length)
    outputs = torch_batch_outputs(loaded.task_module(), probes)
    if examples is None:
        return Reference(probes, outputs)
    encoder = evaluate.TextBatcher(loaded.tokenizer, loaded.input_names, config.preset.max_length)
    # the file's bytes, not only its path: a search's split files keep their paths from one data set to the next
    contents = contents_digest(data_file(config.evaluate))
    key = (loaded.checkpoint_dir, loaded.checkpoint_digest, loaded.task.name, config.evaluate, contents,
           config.preset.max_length)  # fmt: skip
    data = loaded.task.labelled_set(examples, loaded.labels)
    return Reference(probes, outputs, evaluate.Evaluation(data, encoder, key, cache))


@dataclass(frozen=True)
class CompressedModel:
    """A copy of the loaded model carrying the compressed token table and the encoder in its method's form (and
    whatever later stages did to them)."""

    model: nn.Module  # the HF model
    embedding: CompressedEmbedding
    table: Any  # the original fp32 token table (torch.Tensor), for the size report
    encoder_facts: dict[str, Any]  # what the encoder method did, for the report
    steps: tuple[str, ...] = ("compress",)  # the stages that made this model


def prune_vocabulary(
    config: ExportConfig, loaded: LoadedModel, evaluation_texts: list[str] | None
) -> tuple[LoadedModel, dict[str, Any]]:
    """The loaded model with only the token rows --vocab's text uses (and the fallback alphabet), its tokenizer
    rewritten to the kept pieces (with --vocab-rest: the tokenizer as it is, the domain's rows marked); and the
    facts for the report, coverage on held-out text included."""
    texts = read_texts(config.vocab.text, "vocabulary text")
    embedding = loaded.model.get_input_embeddings()
    rows = embedding.num_embeddings
    settings = _prune_settings(config, rows)
    if config.vocab.rest is not None:
        kept = vocab.kept_ids(loaded.tokenizer, texts, *settings)
        domain = _id_mask(kept.kept_ids, rows)
        if not bool((reachable_rows(loaded.tokenizer, rows) & ~domain).any()):  # it was ignored, unsaid
            raise UserInputError("--vocab-rest keeps the rows outside the domain, and there are none: the text (and "
                                 "--vocab-common) use every row; leave --vocab-rest out")  # fmt: skip
        deployed = replace(loaded, domain_rows=domain)
        return deployed, _pruning_facts(config, loaded, kept, texts, None, evaluation_texts)
    pruned = vocab.prune_tokenizer(loaded.tokenizer, texts, *settings)
    model = copy.deepcopy(loaded.model)
    new_id = {old: new for new, old in enumerate(pruned.kept_ids)}
    model.set_input_embeddings(vocab.pruned_table(embedding, pruned.kept_ids, new_id.get(embedding.padding_idx)))
    model.config.vocab_size = len(pruned.kept_ids)
    if model.config.pad_token_id is not None:  # RoBERTa-style position ids count from the padding id
        if model.config.pad_token_id not in new_id:
            raise UserInputError(f"--vocab: the model's config.json names pad_token_id {model.config.pad_token_id}, "
                                 "which its tokenizer neither pads with nor names: the two disagree")  # fmt: skip
        moved = model.config.pad_token_id - new_id[model.config.pad_token_id]
        model.config.pad_token_id = new_id[model.config.pad_token_id]
        if hasattr(model.base_model.embeddings, "padding_idx"):
            model.base_model.embeddings.padding_idx = model.config.pad_token_id
        if loaded.architecture.positions_after_padding and moved:  # an ordinary piece before the padding id went
            drop_leading_positions(model, moved, model.config.pad_token_id)
    deployed = replace(loaded, model=model, tokenizer=pruned.tokenizer, pruned_from=rows)
    return deployed, _pruning_facts(config, loaded, pruned, texts, pruned.tokenizer, evaluation_texts)


def _id_mask(ids: list[int], rows: int) -> torch.Tensor:
    mask = torch.zeros(rows, dtype=torch.bool)
    mask[torch.tensor(ids, dtype=torch.long)] = True
    return mask


def _pruning_facts(
    config: ExportConfig,
    loaded: LoadedModel,
    kept: vocab.KeptIds,
    texts: list[str],
    pruned_tokenizer: Any,
    evaluation_texts: list[str] | None,
) -> dict[str, Any]:
    """--vocab's facts for the report. Coverage compares the bundle's tokenizer with the original; on held-out
    text, a tokenizer pruned on 9 texts in 10 stands in for the bundle's (pruned on all of them) and is measured on
    the 10th. With --vocab-rest (`pruned_tokenizer` None) the tokenizer is the original: every text tokenizes as
    before."""
    rows = kept.original_rows
    dropped = 0 if pruned_tokenizer is None else rows - len(kept.kept_ids)
    width = loaded.model.get_input_embeddings().embedding_dim
    counted, held_out = vocab.held_out_split(texts)
    if pruned_tokenizer is None:
        held_out_tokenizer = evaluation_tokenizer = loaded.tokenizer
    else:
        evaluation_tokenizer = pruned_tokenizer
        held_out_tokenizer = _estimate_tokenizer(config, loaded, counted, rows) if held_out else None
    return {
        "text": str(config.vocab.text),
        "min_count": config.vocab.min_count,
        "common": config.vocab.common,
        "rest_ratio": config.vocab.rest,
        "texts_counted": len(texts),
        "rows_original": rows,
        "rows_kept": len(kept.kept_ids),
        "rows_dropped": dropped,
        "kept_from_text": kept.from_text,
        "kept_as_common": kept.from_common,
        "kept_as_fallback": kept.from_fallback,
        "fp32_bytes_dropped": dropped * width * 4,
        "coverage": {
            "held_out": held_out_tokenizer and vocab.coverage(loaded.tokenizer, held_out_tokenizer, held_out),
            "evaluation": evaluation_texts and vocab.coverage(loaded.tokenizer, evaluation_tokenizer, evaluation_texts),
        },
    }


def _prune_settings(config: ExportConfig, rows: int) -> tuple[int, int, int]:
    """prune_tokenizer's and kept_ids' arguments after the texts."""
    return config.vocab.min_count, rows, config.vocab.common


def _estimate_tokenizer(config: ExportConfig, loaded: LoadedModel, counted: list[str], rows: int) -> Any:
    """The tokenizer pruned on 9 texts in 10, for the coverage estimate; None when those keep no piece (a high
    --vocab-min-count that only all the text reaches): the report then has no estimate, and the export goes on."""
    try:
        return vocab.prune_tokenizer(loaded.tokenizer, counted, *_prune_settings(config, rows)).tokenizer
    except UserInputError:
        return None


def compress_model(
    config: ExportConfig, loaded: LoadedModel, passages: list[Passage] | None, cache: Cache
) -> CompressedModel:
    """A copy of the loaded model with the token table compressed by the embedding method and the encoder put
    into the encoder method's form; a calibrated encoder method is fitted to what its layers read on
    `passages` (--distill's text; None: the built-in calibration sentences). A table `cache` already holds a fit
    of is reused (compressed_table)."""
    table = loaded.model.get_input_embeddings().weight.detach().float()
    embedding = compressed_table(config, loaded, table, cache)
    model = copy.deepcopy(loaded.model)
    model.set_input_embeddings(embedding)
    if not config.encoder.calibrated:
        return CompressedModel(model, embedding, table, config.encoder.compress(encoder_of(model), config.seed))
    texts = calibration_passages(passages, config.seed, loaded.task.pairs)
    batch, max_tokens = config.distill.batch, config.distill.max_tokens
    batches = (encode_passages(loaded.tokenizer, loaded.input_names, texts[i : i + batch], max_tokens)
               for i in range(0, len(texts), batch))  # fmt: skip
    moments = input_moments(model, batches)
    facts = config.encoder.compress(encoder_of(model), config.seed, moments)
    source = f"passages of {config.distill.text}" if passages else "built-in sentences"
    return CompressedModel(model, embedding, table, {**facts, "calibration": f"{len(texts)} {source}"})


def compressed_table(
    config: ExportConfig, loaded: LoadedModel, table: torch.Tensor, cache: Cache
) -> CompressedEmbedding:
    """The embedding method's fit of `table`, made once per `cache` for the same table, tokenizer, rows, method,
    seed and --vocab-rest ratio, and each export gets its own copy: a search exports each table with every encoder,
    with and without --distill, and once more to confirm its pick, and a lighttoken fit is most of a plain export's
    time (docs/search.md). The fit depends on nothing else, so the bundle is the same bytes either way."""
    stats = TokenStats(loaded.tokenizer, table.shape[0])
    keep = reachable_rows(loaded.tokenizer, table.shape[0])
    domain = keep if loaded.domain_rows is None else loaded.domain_rows & keep

    def fit(_folder: Path) -> CompressedEmbedding:
        if bool((keep & ~domain).any()):  # --vocab-rest, and rows the domain's text did not use
            return compress_with_rest(
                config.embedding, table, config.seed, stats, domain, keep & ~domain, config.vocab.rest
            )
        return config.embedding.compress(table, config.seed, stats, keep, loaded.pruned_from)

    tokenizer = loaded.tokenizer.backend_tokenizer.to_str()
    key = ("token table", config.embedding, config.seed, config.vocab.rest, loaded.pruned_from,
           *(_digest(t) for t in (table, keep, domain)), hashlib.sha256(tokenizer.encode()).hexdigest())  # fmt: skip
    return copy.deepcopy(cache.get(key, fit))


def _digest(tensor: torch.Tensor) -> str:
    """sha256 of a tensor's dtype, shape and values."""
    header = f"{tensor.dtype}{tuple(tensor.shape)}".encode()
    return hashlib.sha256(header + tensor.detach().contiguous().cpu().numpy().tobytes()).hexdigest()

def calibration_passages(passages: list[Passage] | None, seed: int, pairs: bool) -> list[Passage]:
    """CALIBRATION_PASSAGES of the training passages (never the held-out ones distillation scores itself on),
    in the seed's order; without any, the built-in calibration sentences. A pair model reads single texts two by
    two, as pairs: the input it will see (its second segment included)."""
    texts = list(calibration_texts()) if not passages else split_passages(passages, seed)[1][:CALIBRATION_PASSAGES]
    if pairs and isinstance(texts[0], str):
        return as_pairs(texts)
    return texts


def _copied(compressed: CompressedModel, step: str) -> CompressedModel:
    model = copy.deepcopy(compressed.model)
    return replace(compressed, model=model, embedding=model.get_input_embeddings(), steps=(*compressed.steps, step))


def distill_encoder(
    config: ExportConfig,
    loaded: LoadedModel,
    compressed: CompressedModel,
    passages: list[str],
    on_step: Callable[[int, float], None],
) -> tuple[CompressedModel, dict[str, Any]]:
    """A copy of `compressed` whose encoder was trained to match the original model (the teacher) on `passages`."""
    student = _copied(compressed, "distill")
    learning_rate = config.distill.learning_rate or config.encoder.distill_rate(loaded.task.name)
    attention = config.encoder.distill_attention if config.distill.attention is None else config.distill.attention
    sentence = config.encoder.distill_sentence if config.distill.sentence is None else config.distill.sentence
    settings = replace(config.distill, learning_rate=learning_rate, attention=attention, sentence=sentence)
    result = distill(
        student.model, loaded.model, loaded.tokenizer, loaded.input_names, passages, settings, config.seed, on_step,
        pooling=loaded.output_pooling, shipped=config.encoder.shipped,
    )
    return student, {
        "text": str(config.distill.text),
        "passages": len(passages),  # all that were read; held_out_passages of them were never trained on
        "held_out_passages": result.held_out_passages,
        "steps": settings.steps,
        "learning_rate": settings.learning_rate,
        "device": result.device,
        "attention_loss": settings.attention,
        "sentence_loss": bool(settings.sentence and loaded.output_pooling),
        "first_loss": result.losses[0],
        "final_loss": result.losses[-1],
        "held_out_loss_before": result.held_out_before,
        "held_out_loss_after": result.held_out_after,
        "held_out_agreement_before": result.held_out_agreement_before,  # top-1, classifiers only (else None)
        "held_out_agreement_after": result.held_out_agreement_after,
        "held_out_labels_original": result.held_out_labels_original,  # labels answered on them (classifiers only)
        "held_out_labels_before": result.held_out_labels_before,
        "held_out_labels_after": result.held_out_labels_after,
    }


def smooth_for_int8(config: ExportConfig, loaded: LoadedModel, compressed: CompressedModel) -> CompressedModel:
    """A copy of `compressed` with SmoothQuant scales where they lower the simulated int8 error (smooth.py)."""
    smoothed = _copied(compressed, "smooth")
    smooth(loaded.task_module(smoothed.model), loaded.tokenizer, loaded.input_names, config.preset.max_length,
           loaded.task.pairs)
    return smoothed


@dataclass(frozen=True)
class ExportedModel:
    """The fp32 ONNX graph of the compressed model, with what the compressed PyTorch model gives on the probes."""

    onnx_model: Path
    parts: list[CompressedPart]
    torch_outputs: np.ndarray  # the compressed model in PyTorch: what the bundle is held to
    max_abs_diff: float  # fp32 ONNX against those, on the probes

    def node_names(self) -> tuple[list[str], list[str]]:
        """(the nodes no encoder pass may rewrite, the encoder's own nodes), from one read of the graph."""
        graph = load_graph(self.onnx_model)
        encoder = next(part for part in self.parts if part.name == ENCODER_PART)
        return nodes_to_keep(self.parts, graph), encoder.scope.node_names(graph)


def export_compressed(
    config: ExportConfig, loaded: LoadedModel, compressed: CompressedModel, probes: ProbeBatch, path: Path
) -> ExportedModel:
    shipped = config.encoder.shipped(compressed.model)
    module = loaded.task_module(shipped)
    outputs = torch_batch_outputs(module, probes)
    export_onnx(module, loaded.tokenizer, loaded.input_names, loaded.task.output_name, path, config.opset)
    # --vocab-rest keeps the rows outside the domain as lighttoken codes: a lossy table whatever --embedding is
    lossy_table = config.embedding.lossy or config.vocab.rest is not None
    table = scope_of(module, shipped.get_input_embeddings())
    parts = [
        CompressedPart(EMBEDDING_PART, table, lossy_table, compressed.embedding.quantizable),
        CompressedPart(ENCODER_PART, scope_of(module, encoder_of(shipped)), config.encoder.lossy, True),
    ]
    return ExportedModel(path, parts, outputs, export_max_abs_diff(path, outputs, probes))


@dataclass(frozen=True)
class Checked:
    """The shipped model on the probes: its export parity (against the compressed PyTorch model, held to the int8
    baseline's agreement less a margin per lossy part) and its fidelity to the original model."""

    parity: Parity
    fidelity: Fidelity
    required: Required
    outputs: np.ndarray  # the shipped model on the probes' padded batch (golden.json's `bundle`)


def check_parity(
    config: ExportConfig,
    loaded: LoadedModel,
    reference: Reference,
    exported: ExportedModel,
    shipped: ModelFiles,
    baseline: Baseline,
) -> Checked:
    classifier = loaded.task.classifier
    probes = reference.probes
    read = reference.as_the_baseline_reads_it
    yardstick = baseline_agreement(baseline.model_path, read.probes, read.outputs, classifier, loaded.output_pooling)
    batched, alone = ort_probe_outputs(shipped, probes)
    required = Required.below(yardstick, config.preset.tolerance, lossy_parts(exported.parts))
    parity = compare(exported.torch_outputs, batched, alone, exported.max_abs_diff, classifier, required)
    # fidelity: against the original model on the original tokenizer (with --vocab, what pruning costs too)
    return Checked(parity, fidelity(read.outputs, batched, alone, classifier), required, batched)


def evaluate_accuracy(
    loaded: LoadedModel, reference: Reference, shipped: ModelFiles, baseline: Baseline
) -> evaluate.Accuracy:
    return reference.evaluation.score(reference.scores, shipped, baseline.model_path, loaded.output_pooling)


def bundle_manifest(
    config: ExportConfig,
    loaded: LoadedModel,
    reference: Reference,
    exported: ExportedModel,
    checked: Checked,
    built: TargetBuild,
    folder: Path,
) -> Manifest:
    """Write the tokenizer files and golden.json beside the model, then bundle.json listing them all."""
    tokenizer_files = bundle.save_tokenizer(loaded.tokenizer, folder)
    bundle.write_golden(folder, reference.probes, reference.outputs, exported.torch_outputs, checked.outputs)
    pooling = loaded.output_pooling
    manifest = Manifest(
        preset=config.preset.name,
        checkpoint=bundle.published_name(config.checkpoint),
        model_type=loaded.hf_config.model_type,
        task=loaded.task.name,
        labels=loaded.labels,
        pooling=pooling,
        normalized=pooling is not None,
        max_length=config.preset.max_length,
        model=ModelSpec(
            built.model_file,
            built.model_format,
            [TensorSpec(name, "int64", ["batch", "sequence"]) for name in loaded.input_names],
            [TensorSpec(loaded.task.output_name, "float32", ["batch", "features"])],
            built.weights_file,
        ),
        tokenizer=TokenizerSpec("tokenizer.json", tokenizer_files, loaded.tokenizer.pad_token_id),
        embedding={
            "method": config.embedding.name,
            "ratio_requested": getattr(config.embedding, "ratio", None),
            "seed": config.seed,
            "settings": config.embedding.to_json(),
        },
        encoder=config.encoder.to_json(),
        tolerance=BundleTolerance(checked.required.min_cosine, checked.required.min_top1_agreement),
        tools=bundle.tool_versions(),
    )
    hashed = [*built.model_files, *built.extra_files, *tokenizer_files, "golden.json"]
    return write_manifest(folder, manifest, hashed)


def sizes(
    shipped: ModelFiles, quantized: Path, exported: ExportedModel, compressed: CompressedModel, baseline: Baseline,
    loaded: LoadedModel,
) -> dict[str, Any]:
    """`model_bytes`: the model file's, and the load-time weights model's when there is one (both ship)."""
    graph = load_graph(quantized)
    parts = {part.name: part.stored_bytes(graph) for part in exported.parts}
    embedding_bytes, encoder_bytes = parts[EMBEDDING_PART], parts[ENCODER_PART]
    fp32 = (loaded.pruned_from or compressed.table.shape[0]) * compressed.table.shape[1] * 4  # the whole table
    encoder_fp32 = sum(p.numel() for p in encoder_of(loaded.model).parameters()) * 4
    baseline_encoder = baseline.breakdown["encoder"]
    model_bytes = shipped.bytes
    return {
        "model_bytes": model_bytes,
        "embedding_bytes": embedding_bytes,
        "embedding_fp32_bytes": fp32,
        "embedding_ratio_vs_fp32": fp32 / embedding_bytes,
        "embedding_ratio_vs_fp16": fp32 / 2 / embedding_bytes,
        "embedding_ratio_vs_int8": fp32 / 4 / embedding_bytes,
        "encoder_bytes": encoder_bytes,
        "encoder_fp32_bytes": encoder_fp32,
        "encoder_ratio_vs_fp32": encoder_fp32 / encoder_bytes,
        "encoder_ratio_vs_int8": baseline_encoder / encoder_bytes,  # the baseline's int8 encoder, as stored
        # in the bundle's own format (.ort for onnx-mobile), so the two files compare like for like
        "baseline_int8_model_bytes": baseline.model_bytes,
        "baseline_int8_onnx_bytes": baseline.onnx_bytes,
        "model_ratio_vs_baseline": model_bytes / baseline.model_bytes,
        "parts": parts,  # each compressed part's stored bytes in the quantized graph
        "breakdown": {  # the shipped files' bytes: token embedding / encoder layers / everything else
            "bundle": size_breakdown(embedding_bytes, encoder_bytes, model_bytes),
            "baseline_int8": baseline.breakdown,
        },
    }
