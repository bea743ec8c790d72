"""This project against what a user would pick instead, in one run on one machine, as ratios to optimum's int8.

    python benchmarks/compare.py [--models stsb sst2] [--ratios 25 50 100] [--runs 200] [--distill-steps 300]
                                 [--seeds 3] [--encoders int8 int4 tucker:4 lowrank:4]
                                 [--out benchmarks/results/compare-latest]

For all-MiniLM-L6-v2 (scored on STS-B dev) and ../shared/models/minilm-l6-sst2 (SST-2 dev) it builds, each in a
child process of its own (export wall time and peak memory are the child's):
  (a) fp32 ONNX: `optimum-cli export onnx`;
  (b) int8: `optimum-cli onnxruntime quantize --arm64` on (a), the reference every ratio is taken against;
  (c) ORT's 4-bit GatherBlockQuantized token table + (b)'s int8 for the rest (benchmarks/competitors.py);
  (d) our bundles: `python -m export bert --embedding lighttoken --ratio R --encoder E --distill TRAIN` (.ort),
      one per table ratio R and encoder method E (`--encoders`, METHOD or METHOD:RATIO; default int8), the encoder
      distilled to the compressed model on the model's own training sentences, labels unread
      (`--distill-steps 0`: without that stage, minutes faster, and far less accurate at 50x and up on SST-2).
Our bundles are trained fits, each a random draw: each ratio is built with seeds 0..N-1 (`--seeds N`), and its score
and parity are the seeds' mean ± sd (and worst); sizes, speed and memory, which the seed does not change, are
measured on seed 0's bundle. Then, for each model file: its size and its size deflated in a zip (as an app package
carries it); the dev-set score, one text at a time; parity with (a) on the same texts; ORT CPU latency at
batch 1 for 16 and 128 tokens with 1 and 2 intra-op threads (all models interleaved round by round after a
warm-up; p50 and p95); session load time and peak memory of a fresh process that loads the model and runs it
10 times (medians of 3 processes, in rounds that interleave the models in a shuffled order; until the
thirty-third session each model's three ran back to back, as for the checked-in results).
(a)-(c) ship the .onnx their tools write; our bundles ship model.ort (and weights.ort, int4-as-int8's 4-bit
decode run once at load). Sizes are of the model file(s) alone: every build needs the same tokenizer files
beside it.

Writes compare.md (the tables, every figure also as a ratio to (b), and the issue's floors checked),
compare.json and compare.csv.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from measure import (
    ChildRun,
    child_json,
    fixed_length_inputs,
    interleaved_latency,
    session,
    timed_child,
    weights_beside,
    zipped_bytes,
)
from rich.console import Console

from export.evaluate import TextBatcher, ort_text_outputs, pooled
from export.load import resolve_checkpoint
from export.spread import Spread
from export.targets.base import ModelFiles
from export.tasks import TASKS, load_set
from runtime_py.machine import machine
from runtime_py.parity import cosine

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
LENGTHS, THREADS = (16, 128), (1, 2)
MEMORY_PROCESSES = 3


@dataclass(frozen=True)
class CompareModel:
    name: str
    checkpoint: str  # hub id (resolved to the embedded copy) or folder
    task: str
    data: Path  # the GLUE task folder: dev.tsv is scored, train.tsv's sentences (labels unread) are distilled on
    floor: float  # the LightToken issue's largest drop vs (b) allowed at 50x

    @property
    def distill_text(self) -> Path:
        return self.data / "train.tsv"


MODELS = {
    "stsb": CompareModel("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "feature-extraction",
                         SHARED / "data/glue/STS-B", 0.010),
    "sst2": CompareModel("minilm-l6-sst2", str(SHARED / "models/minilm-l6-sst2"), "text-classification",
                         SHARED / "data/glue/SST-2", 0.010),
}  # fmt: skip


@dataclass
class Entry:
    """One model file to compare."""

    key: str  # "a", "b", "c", "25x", ...
    label: str
    model: Path
    build: ChildRun  # for chained builds, (a)'s time added and the larger peak kept
    pool_outside: bool  # optimum's feature-extraction export outputs token states; pool them as the bundle does
    extra: dict
    other_seeds: list[Path] = field(default_factory=list)  # our bundles: the same build with seeds 1..N-1, scored


def chained(first: ChildRun, then: ChildRun) -> ChildRun:
    return ChildRun(first.seconds + then.seconds, max(first.peak_rss_mb, then.peak_rss_mb))


def encoder_flags(spec: str) -> list[str]:
    """"tucker:4" → --encoder tucker --encoder-ratio 4; "int4" → --encoder int4."""
    method, _, ratio = spec.partition(":")
    return ["--encoder", method, *(["--encoder-ratio", ratio] if ratio else [])]


def build_entries(
    model: CompareModel, ratios: list[float], distill_steps: int, seeds: int, work: Path, console: Console,
    encoders: tuple[str, ...],
) -> list[Entry]:
    checkpoint = resolve_checkpoint(model.checkpoint)
    embedder = model.task == "feature-extraction"
    a_dir, b_dir, c_dir = work / "a-fp32", work / "b-int8", work / "c-gather4"
    optimum = [sys.executable, "-m", "optimum.commands.optimum_cli"]
    console.log(f"{model.name}: (a) optimum-cli export onnx")
    a = timed_child([*optimum, "export", "onnx", "--model", str(checkpoint), "--task", model.task,
                     "--library-name", "transformers", str(a_dir)])  # fmt: skip
    console.log(f"{model.name}: (b) optimum-cli onnxruntime quantize --arm64")
    b = timed_child([*optimum, "onnxruntime", "quantize", "--onnx_model", str(a_dir), "--arm64", "-o", str(b_dir)])
    console.log(f"{model.name}: (c) ORT 4-bit GatherBlockQuantized table + int8")
    c = timed_child([sys.executable, str(HERE / "competitors.py"), "gather4", str(a_dir), str(c_dir)])
    entries = [
        Entry("a", "fp32 (optimum)", a_dir / "model.onnx", a, embedder, {}),
        Entry("b", "int8 (optimum/ORT --arm64)", b_dir / "model_quantized.onnx", chained(a, b), embedder, {}),
        Entry("c", "4-bit table + int8 (ORT GatherBlockQuantized)", c_dir / "model_quantized.onnx",
              chained(a, c), embedder, {}),
    ]  # fmt: skip
    distill_args = (
        ["--distill", str(model.distill_text), "--distill-steps", str(distill_steps)] if distill_steps else []
    )
    for ratio in ratios:
        for encoder in encoders:
            outs, runs = [], []
            for seed in range(seeds):
                outs.append(work / f"lighttoken-{ratio:g}-{encoder.replace(':', '-')}-seed{seed}")
                # --no-strict: a bundle under its export-parity tolerance is still compared (the report says so)
                command = ["bert", "--model", model.checkpoint, "--embedding", "lighttoken", "--ratio", f"{ratio:g}",
                           *encoder_flags(encoder), "--seed", str(seed), *distill_args, "--out", str(outs[-1]),
                           "--no-strict"]  # fmt: skip
                console.log(f"{model.name}: (d) python -m export {' '.join(command)}")
                runs.append(timed_child([sys.executable, "-m", "export", *command]))
            report = json.loads((outs[0] / "report.json").read_text())
            extra = bundle_facts(report)
            named = "" if encoder == "int8" else f" {encoder.replace(':', ' ')}"
            distilled = ", distilled" if extra["distill_steps"] else ""
            calibrated = ", calibrated" if calibrated_encoder(report) else ""
            label = f"ours, lighttoken {ratio:g}x, encoder {encoder}{calibrated}{distilled}"
            model_file = json.loads((outs[0] / "bundle.json").read_text())["model"]["file"]  # .ort, or .onnx
            entries.append(Entry(f"{ratio:g}x{named}", label, outs[0] / model_file, runs[0], False, extra,
                                 [out / model_file for out in outs[1:]]))  # fmt: skip
    return entries


def bundle_facts(report: dict) -> dict:
    """What our bundle's report.json adds to its row; distillation steps as the bundle ran them (0: none); a
    calibrated factorisation is named so, as rows of either kind may sit side by side in results/."""
    return {
        "achieved_ratio": report["size"]["embedding_ratio_vs_fp32"],
        "encoder": report["encoder"]["method"] + (" calibrated" if calibrated_encoder(report) else ""),
        "encoder_bytes": report["size"]["encoder_bytes"],
        "export_parity_passed": report["parity"]["passed"],
        "distill_steps": report["distill"]["steps"] if report["distill"] else 0,
    }


def calibrated_encoder(report: dict) -> bool:
    """Whether the bundle's encoder factors were fitted on calibration text (tucker and lowrank by default)."""
    return report["config"]["encoder"].get("calibrate", False)


def score(entries: list[Entry], model: CompareModel, max_length: int, console: Console) -> dict[str, dict]:
    """Dev-set score of every entry, and its parity with (a) on the same texts."""
    from transformers import AutoConfig, AutoTokenizer

    checkpoint = resolve_checkpoint(model.checkpoint)
    labels = TASKS[model.task].labels(AutoConfig.from_pretrained(checkpoint))  # the checkpoint's, as the export's
    data = load_set(model.data, model.task, labels)
    names = ["input_ids", "attention_mask", "token_type_ids"]  # ort_text_outputs keeps those the model takes
    encoder = TextBatcher(AutoTokenizer.from_pretrained(checkpoint), names, max_length)
    score_of = {}
    for entry in entries:
        console.log(f"{model.name}: scoring {entry.label} on {len(data.texts)} texts, one at a time, "
                    f"{1 + len(entry.other_seeds)} seed(s)")  # fmt: skip
        postprocess = pooled("mean") if entry.pool_outside else None
        score_of[entry.key] = [ort_text_outputs(shipped(path), encoder, data.texts, postprocess=postprocess)
                               for path in [entry.model, *entry.other_seeds]]  # fmt: skip
    reference = score_of["a"][0]
    classifier = data.metric == "accuracy"
    scores = {}
    for key, seeds in score_of.items():
        similarities = [cosine(values, reference) for values in seeds]
        agreements = [float((values.argmax(-1) == reference.argmax(-1)).mean()) for values in seeds]
        values = [data.score(values) for values in seeds]
        spread = Spread.of(values)
        scores[key] = {
            "metric": f"{data.dataset} {data.metric}",
            "seeds": len(seeds),
            "score": spread.mean,
            "score_sd": spread.sd,
            "score_worst": spread.worst,
            "scores": values,
            # classifiers: the share of texts given (a)'s label; the cosine of two-logit vectors says little
            "parity_measure": "top-1 agreement" if classifier else "mean cosine",
            "parity": float(np.mean(agreements if classifier else [s.mean() for s in similarities])),
            "parity_mean_cosine": float(np.mean([s.mean() for s in similarities])),
            "parity_min_cosine": float(min(s.min() for s in similarities)),
        }
    return scores


def latencies(entries: list[Entry], tokenizer: Path, runs: int, console: Console) -> dict[str, dict]:
    result = {entry.key: {} for entry in entries}
    for threads in THREADS:
        sessions = {entry.key: session(entry.model, threads) for entry in entries}
        for tokens in LENGTHS:
            console.log(f"latency: {tokens} tokens, {threads} thread(s), {runs} interleaved rounds")
            measured = interleaved_latency(sessions, fixed_length_inputs(tokenizer, tokens), runs)
            for key, latency in measured.items():
                result[key][f"p50_ms_{tokens}tok_{threads}t"] = latency.p50_ms
                result[key][f"p95_ms_{tokens}tok_{threads}t"] = latency.p95_ms
    return result


def memory(entries: list[Entry], tokenizer: Path, work: Path) -> dict[str, dict]:
    """Load time and peak memory of a fresh process per model (median of MEMORY_PROCESSES), 128 tokens. Rounds
    interleave the models in a shuffled order, as the latencies do, so the machine's drift spreads over all of
    them (each model's processes ran back to back before)."""
    feed = work / "feed-128.npz"
    np.savez(feed, **fixed_length_inputs(tokenizer, 128))
    runs: dict[str, list[dict]] = {entry.key: [] for entry in entries}
    order, shuffle = list(entries), random.Random(0).shuffle
    for _ in range(MEMORY_PROCESSES):
        shuffle(order)
        for entry in order:
            runs[entry.key].append(child_json([sys.executable, str(HERE / "measure.py"), str(entry.model), str(feed)]))
    return {key: {name: float(np.median([r[name] for r in rows])) for name in rows[0]} for key, rows in runs.items()}


def compare_model(
    model: CompareModel, ratios: list[float], distill_steps: int, runs: int, console: Console, seeds: int = 3,
    encoders: tuple[str, ...] = ("int8",),
) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bert-edge-compare-") as folder:
        work = Path(folder)
        entries = build_entries(model, ratios, distill_steps, seeds, work, console, encoders)
        tokenizer = work / "a-fp32" / "tokenizer.json"
        max_length = json.loads((entries[-1].model.parent / "bundle.json").read_text())["max_length"]
        scores = score(entries, model, max_length, console)
        speed = latencies(entries, tokenizer, runs, console)
        console.log(f"{model.name}: load time and peak memory, {MEMORY_PROCESSES} processes per model")
        mem = memory(entries, tokenizer, work)
        return [row(model, e, scores[e.key], speed[e.key], mem[e.key]) for e in entries]


def shipped(model: Path) -> ModelFiles:
    """The model file, and its load-time weights model when its bundle has one (int4-as-int8's weights.ort)."""
    return ModelFiles(model, weights_beside(model))


def row(model: CompareModel, entry: Entry, scores: dict, speed: dict, mem: dict) -> dict:
    files = shipped(entry.model).paths
    return {
        "model": model.name,
        "key": entry.key,
        "build": entry.label,
        "file": " + ".join(path.name for path in files),
        "bytes": sum(path.stat().st_size for path in files),
        "zipped_bytes": sum(zipped_bytes(path) for path in files),
        **scores,
        **speed,
        "load_ms": mem["load_ms"],
        "peak_rss_mb": mem["peak_rss_mb"],
        "rss_before_load_mb": mem["rss_before_load_mb"],
        "export_seconds": entry.build.seconds,
        "export_peak_rss_mb": entry.build.peak_rss_mb,
        **entry.extra,
    }


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refused before the baselines are built: a bad setting failed only after builds (a) to (c), or after every
    export and all the scoring (--runs 0)."""
    from export import LightToken, UserInputError
    from export.encoder import make_encoder
    from export.pipeline import MAX_DISTILL_STEPS

    if args.runs < 1 or args.seeds < 1:
        parser.error(f"--runs and --seeds must be at least 1 (got {args.runs}, {args.seeds})")
    if not (args.distill_steps == 0 or 1 <= args.distill_steps <= MAX_DISTILL_STEPS):
        parser.error(f"--distill-steps must be 0 (none) or from 1 to {MAX_DISTILL_STEPS:,} (got {args.distill_steps})")
    try:
        for ratio in args.ratios:
            LightToken(ratio=ratio).check()
        for spec in args.encoders:
            method, _, ratio = spec.partition(":")
            make_encoder(method, **({"ratio": float(ratio)} if ratio else {}))  # make() checks the settings
    except (UserInputError, ValueError) as err:
        parser.error(str(err))


def main() -> None:
    from report_tables import write_outputs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--ratios", nargs="+", type=float, default=[25, 50, 100])
    parser.add_argument("--runs", type=int, default=200, help="interleaved latency rounds per length and threads")
    parser.add_argument(
        "--distill-steps",
        type=int,
        default=300,
        help="distillation steps for our bundles, on each model's training sentences (0: none, minutes faster)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per ratio of our bundles (default 3)")
    parser.add_argument("--encoders", nargs="+", default=["int8"],
                        help="encoder methods of our bundles, METHOD or METHOD:RATIO (default int8)")  # fmt: skip
    # not the checked-in results (benchmarks/results/compare*): a run writes there only when asked to, as sweep.py
    parser.add_argument("--out", type=Path, default=HERE / "results/compare-latest",
                        help="folder for its results (default benchmarks/results/compare-latest)")  # fmt: skip
    args = parser.parse_args()
    check_arguments(parser, args)
    console = Console(stderr=True)
    rows = []
    for key in args.models:
        rows.extend(compare_model(MODELS[key], args.ratios, args.distill_steps, args.runs, console, args.seeds,
                                  tuple(args.encoders)))  # fmt: skip
    floors = {MODELS[key].name: MODELS[key].floor for key in args.models}
    print(write_outputs(rows, machine(), floors, args.out))


if __name__ == "__main__":
    main()
