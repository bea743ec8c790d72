"""The export pipeline: load → compress → export → quantize → convert → validate → report.

Each stage takes the previous stage's output and its own slice of the ExportConfig. Intermediate files live in
a scratch folder; the bundle is assembled in a staging folder beside --out and moved into place only when
complete (and, in strict mode, only when parity passes).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from runtime_py.machine import machine
from runtime_py.manifest import BundleTolerance, Manifest, ModelSpec, TensorSpec, TokenizerSpec, write_manifest

from . import bundle, evaluate, report
from .baseline import Baseline, build_baseline
from .cache import Cache
from .charts import check_sweep
from .config import ExportConfig
from .datasets import Examples, data_file, read_examples
from .distill import distill, frozen_copy, read_passages
from .embedding.reachable import reachable_rows
from .embedding.token_stats import TokenStats
from .errors import ParityError, UserInputError
from .load import load
from .onnx_export import export_onnx
from .onnx_graph import load_graph, size_breakdown
from .progress import Stages
from .quantize import check_mode, quantize
from .smooth import smooth
from .targets import get_target
from .validate import (
    Required,
    baseline_agreement,
    compare,
    export_max_abs_diff,
    fidelity,
    ort_outputs,
    torch_outputs,
)


def check_config(config: ExportConfig) -> ExportConfig:
    """Everything that can be refused without loading a model."""
    bundle.check_output_folder(config.out, config.force)
    get_target(config.target)
    check_mode(config.quantize.mode)
    if config.evaluate is not None:
        read_examples(config.evaluate)
    if config.sweep is not None:
        check_sweep(config.sweep)
    if config.distill.text is not None:
        read_passages(config.distill.text)
        if config.distill.steps < 1:
            raise UserInputError(f"--distill-steps must be at least 1 (got {config.distill.steps})")
        if config.evaluate is not None and data_file(config.evaluate).resolve() == config.distill.text.resolve():
            raise UserInputError("--distill and --evaluate name the same file: a score on text the encoder was "
                                 "trained on measures nothing")  # fmt: skip
    config.embedding.check()
    return config


def run(config: ExportConfig, console: Console, cache: Cache | None = None) -> dict[str, Any]:
    """Export one bundle. Pass `cache` to share the baseline and reference scores between exports."""
    if cache is None:
        with Cache() as own:
            return run(config, console, own)
    config = check_config(config)
    started = time.perf_counter()
    stages = Stages(console)
    with (
        tempfile.TemporaryDirectory(prefix="bert-edge-") as scratch,
        bundle.staging_folder(config.out) as staging,
    ):
        work = Path(scratch)
        with stages("load", config.checkpoint):
            examples = read_examples(config.evaluate) if config.evaluate is not None else None
            loaded = load(config, pairs=examples is not None and examples.pairs)
            probes = loaded.task.probes(loaded.tokenizer, loaded.input_names, config.preset.max_length)
            original = torch_outputs(loaded.graph(), probes)
            evaluation = _evaluation(config, loaded, examples, cache)
        if evaluation is not None:
            with stages("score fp32", f"{evaluation.data.dataset}, {len(evaluation.data.texts)} texts"):
                original_scores = evaluation.original_scores(loaded.graph())
        with stages("compress", config.embedding.name):
            teacher = frozen_copy(loaded.model) if config.distill.text else None
            table = loaded.model.get_input_embeddings().weight.detach().float()
            stats = TokenStats(loaded.tokenizer, table.shape[0])
            keep = reachable_rows(loaded.tokenizer, table.shape[0])
            embedding = config.embedding.compress(table, config.seed, stats, keep)
            loaded.model.set_input_embeddings(embedding)
            graph = loaded.graph()
        distilled = _distill(config, loaded, teacher, stages) if teacher is not None else None
        if config.quantize.mode == "int8-dynamic" and config.quantize.smooth:
            with stages("smooth", "per-group SmoothQuant scales"):
                smooth(graph, loaded.tokenizer, loaded.input_names, config.preset.max_length)
        compressed_reference = torch_outputs(graph, probes)
        with stages("export", f"opset {config.opset}"):
            exported = export_onnx(
                graph, loaded.tokenizer, loaded.input_names, loaded.task.output_name, embedding,
                work / "model-fp32.onnx", config.opset,
            )  # fmt: skip
            export_diff = export_max_abs_diff(exported.path, compressed_reference, probes)
        with stages("quantize", config.quantize.mode):
            quantized = quantize(exported, config.quantize, embedding.quantizable, work / "model-quantized.onnx")
        with stages("convert", config.target):
            built = get_target(config.target).build(quantized, staging)
            tokenizer_files = bundle.save_tokenizer(loaded.tokenizer, staging)
        with stages("baseline", "optimum export + ORT int8 (arm64)"):
            baseline = cache.get(
                ("baseline", loaded.checkpoint_dir, loaded.task.name, config.target),
                lambda folder: build_baseline(
                    loaded.checkpoint_dir, loaded.task.optimum_task, folder, get_target(config.target)
                ),
            )
            classifier = loaded.task.classifier
            pooling = loaded.task.output_pooling(loaded.pooling)
            yardstick = baseline_agreement(baseline.model_path, probes, original, classifier, pooling)
        with stages("validate"):
            batched, alone = ort_outputs(staging / built.model_file, probes)
            required = Required.below(yardstick, config.preset.tolerance, config.embedding.lossy)
            parity = compare(compressed_reference, batched, alone, export_diff, classifier, required)
            fidelity_ = fidelity(original, batched, alone, classifier)
        accuracy = None
        if evaluation is not None:
            with stages("evaluate", f"baseline and bundle, {len(evaluation.data.texts)} texts one at a time"):
                accuracy = evaluation.score(original_scores, staging / built.model_file, baseline.model_path, pooling)
        with stages("report"):
            bundle.write_golden(staging, probes, original, compressed_reference, batched)
            hashed = [built.model_file, *built.extra_files, *tokenizer_files, "golden.json"]
            manifest = write_manifest(staging, _manifest(config, loaded, built, tokenizer_files, required), hashed)
            sizes = _sizes(staging / built.model_file, quantized, exported, table, baseline)
            result = _report(config, manifest, built, sizes, parity, embedding, stages.seconds, started)
            result["fidelity"] = asdict(fidelity_)
            result["distill"] = distilled
            result["accuracy"] = accuracy.to_json() if accuracy else None
            report.write_reports(staging, result, config.sweep)
        if not parity.passed and config.strict:
            raise ParityError(
                "parity check failed: " + "; ".join(parity.failures) + " (--no-strict keeps the bundle anyway)"
            )
        bundle.publish(staging, config.out)
    report.print_summary(console, result, config.out)
    if not parity.passed:
        console.print("[yellow]warning:[/] parity failed; bundle kept because of --no-strict")
    return result


def _distill(config: ExportConfig, loaded, teacher, stages: Stages) -> dict[str, Any]:
    passages = read_passages(config.distill.text)
    steps = config.distill.steps
    with stages("distill", f"{steps} steps on {len(passages)} passages from {config.distill.text}") as status:

        def show(step: int, loss: float) -> None:
            status.update(f"distill step {step + 1}/{steps}, loss {loss:.4f} …")

        result = distill(
            loaded.model, teacher, loaded.tokenizer, loaded.input_names, passages, config.distill, config.seed, show
        )
    return {
        "text": str(config.distill.text),
        "passages": len(passages),
        "steps": steps,
        "first_loss": result.losses[0],
        "final_loss": result.losses[-1],
        "held_out_loss_before": result.held_out_before,
        "held_out_loss_after": result.held_out_after,
    }


def _evaluation(config: ExportConfig, loaded, examples: Examples | None, cache: Cache) -> evaluate.Evaluation | None:
    if examples is None:
        return None
    encoder = evaluate.TextEncoder(loaded.tokenizer, loaded.input_names, config.preset.max_length)
    key = (loaded.checkpoint_dir, loaded.task.name, config.evaluate, config.preset.max_length)
    return evaluate.Evaluation(loaded.task.labelled_set(examples, loaded.labels), encoder, key, cache)


def _manifest(config: ExportConfig, loaded, built, tokenizer_files: list[str], required: Required) -> Manifest:
    pooling = loaded.task.output_pooling(loaded.pooling)
    io = [TensorSpec(name, "int64", ["batch", "sequence"]) for name in loaded.input_names]
    return Manifest(
        preset=config.preset.name,
        checkpoint=config.checkpoint,
        model_type=loaded.hf_config.model_type,
        task=loaded.task.name,
        labels=loaded.labels,
        pooling=pooling,
        normalized=pooling is not None,
        max_length=config.preset.max_length,
        model=ModelSpec(
            built.model_file,
            built.model_format,
            io,
            [TensorSpec(loaded.task.output_name, "float32", ["batch", "features"])],
        ),
        tokenizer=TokenizerSpec("tokenizer.json", tokenizer_files, loaded.tokenizer.pad_token_id),
        embedding={
            "method": config.embedding.name,
            "ratio_requested": getattr(config.embedding, "ratio", None),
            "seed": config.seed,
            "settings": config.embedding.to_json(),
        },
        quantize=config.quantize.mode,
        tolerance=BundleTolerance(required.min_cosine, required.min_top1_agreement),
        tools=bundle.tool_versions(),
    )


def _sizes(model_file: Path, quantized: Path, exported, table, baseline: Baseline) -> dict[str, Any]:
    graph = load_graph(quantized)
    embedding_bytes = exported.embedding_scope.stored_bytes(graph)
    fp32 = table.numel() * 4
    model_bytes = model_file.stat().st_size
    return {
        "model_bytes": model_bytes,
        "embedding_bytes": embedding_bytes,
        "embedding_fp32_bytes": fp32,
        "embedding_ratio_vs_fp32": fp32 / embedding_bytes,
        "embedding_ratio_vs_fp16": fp32 / 2 / embedding_bytes,
        "embedding_ratio_vs_int8": fp32 / 4 / embedding_bytes,
        # in the bundle's own format (.ort for onnx-mobile), so the two files compare like for like
        "baseline_int8_model_bytes": baseline.model_bytes,
        "baseline_int8_onnx_bytes": baseline.onnx_bytes,
        "model_ratio_vs_baseline": model_bytes / baseline.model_bytes,
        "breakdown": {  # the shipped files' bytes: token embedding / other weights / graph and format
            "bundle": size_breakdown(graph, embedding_bytes, model_bytes),
            "baseline_int8": baseline.breakdown,
        },
    }


def _report(config, manifest, built, sizes, parity, embedding, stage_seconds, started) -> dict[str, Any]:
    return {
        "preset": config.preset.name,
        "checkpoint": config.checkpoint,
        "task": manifest.task,
        "target": config.target,
        "quantize": config.quantize.mode,
        "bundle": {"model_file": built.model_file, "format": built.model_format, "reproducible": built.reproducible},
        "embedding": {
            "method": config.embedding.name,
            "ratio_requested": getattr(config.embedding, "ratio", None),
            "settings": config.embedding.to_json(),
            "seed": config.seed,
            "module_bytes": embedding.stored_bytes(),
            **embedding.describe(),
        },
        "size": sizes,
        "parity": parity.to_json(),
        "operators": built.operator_check,
        "machine": machine(),  # int8 kernels, and so parity and accuracy, differ by CPU
        "timing": {"export_seconds": time.perf_counter() - started, "stages": dict(stage_seconds)},
    }
