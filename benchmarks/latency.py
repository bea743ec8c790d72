"""Batch-1 latency of bundles against a reference model, interleaved, and where each one's time goes.

    python benchmarks/latency.py [--baseline CHECKPOINT | --reference MODEL] BUNDLE_OR_MODEL ...
                                 [--tokens 128 16] [--runs 300] [--repeats 2] [--threads 1] [--profile]

`--baseline CHECKPOINT` builds the optimum/ORT int8 baseline of that checkpoint (`.ort`, or `.onnx` when the first
model is one: each export's report compares against its own target's) and times every model against it;
`--reference MODEL` takes a model file or bundle folder instead. Each repeat runs every model once per round in a
shuffled order (benchmarks/measure.py's `interleaved_latency`), so the machine's drift spreads over all of them;
the table gives each repeat's p50 with its ratio to the reference, and the p95; the header names the CPU.
`--profile` adds ONNX Runtime's own per-operator profile of every model at the first token count: milliseconds a
call by operator type, the kernels' time only.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

from measure import feed_for, fixed_length_inputs, interleaved_latency, session

from runtime_py.machine import cpu_name

PROFILED_RUNS = 60


def model_file(path: Path) -> Path:
    """A bundle folder's model file (named in bundle.json), or the file itself."""
    if path.is_dir():
        return path / json.loads((path / "bundle.json").read_text())["model"]["file"]
    return path


def tokenizer_file(paths: list[Path]) -> Path:
    for path in paths:
        folder = path if path.is_dir() else path.parent
        if (folder / "tokenizer.json").is_file():
            return folder / "tokenizer.json"
    sys.exit("error: no tokenizer.json beside any model: pass a bundle folder")


def build_baseline_model(checkpoint: str, work: Path, target: str) -> Path:
    """The optimum/ORT int8 baseline of `checkpoint` as the export builds it (export/baseline.py) for `target`
    (`.ort` for onnx-mobile, `.onnx` for onnx): the form of the bundles it is timed against."""
    from export.api import export_config, quiet_libraries
    from export.baseline import build_baseline, encoder_scope
    from export.load import load
    from export.targets import get_target

    with quiet_libraries():
        loaded = load(export_config(model=checkpoint))
        baseline = build_baseline(
            loaded.checkpoint_dir, loaded.task.optimum_task, work, get_target(target),
            encoder_scope(loaded.model),
        )  # fmt: skip
    return baseline.model_path


def operator_profile(model: Path, inputs: dict, threads: int, work: Path) -> dict[str, float]:
    """Milliseconds a call spent in each operator type's kernels (ORT's profiler, PROFILED_RUNS calls)."""
    profiled = session(model, threads, profile_prefix=work / "profile")
    feed = feed_for(profiled, inputs)
    for _ in range(PROFILED_RUNS):
        profiled.run(feed)
    events = json.loads(Path(profiled.session.end_profiling()).read_text())
    micros: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            micros[event["args"]["op_name"]] += event["dur"]
    return {op: total / PROFILED_RUNS / 1000 for op, total in micros.most_common()}


def print_profiles(profiles: dict[str, dict[str, float]]) -> None:
    ops = sorted({op for profile in profiles.values() for op in profile},
                 key=lambda op: -max(profile.get(op, 0.0) for profile in profiles.values()))  # fmt: skip
    print("\n| operator | " + " | ".join(profiles) + " |")
    print("|---|" + "---|" * len(profiles))
    for op in ["total", *ops]:
        cells = [sum(p.values()) if op == "total" else p.get(op, 0.0) for p in profiles.values()]
        print(f"| {op} | " + " | ".join(f"{ms:.3f} ms" for ms in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="bundle folders or model files")
    reference = parser.add_mutually_exclusive_group(required=True)
    reference.add_argument("--baseline", help="checkpoint whose optimum/ORT int8 build is the reference")
    reference.add_argument("--reference", type=Path, help="bundle folder or model file to take ratios against")
    parser.add_argument("--tokens", nargs="+", type=int, default=[128, 16])
    parser.add_argument("--runs", type=int, default=300, help="rounds per repeat (default 300)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="per-operator time of every model")
    args = parser.parse_args()
    if min(args.tokens) < 2 or min(args.runs, args.repeats, args.threads) < 1:  # before the baseline is built
        parser.error("--tokens must be at least 2 ([CLS] and [SEP]), --runs, --repeats and --threads at least 1")
    target = "onnx" if model_file(args.models[0]).suffix == ".onnx" else "onnx-mobile"

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        first = (build_baseline_model(args.baseline, work / "baseline", target) if args.baseline
                 else model_file(args.reference))  # fmt: skip
        models = {"reference": first} | {str(path): model_file(path) for path in args.models}
        sessions = {name: session(path, args.threads) for name, path in models.items()}
        tokenizer = tokenizer_file([*args.models, *([args.reference] if args.reference else [])])
        built = f"{args.baseline} (optimum/ORT int8, {first.suffix})" if args.baseline else args.reference
        print(f"reference: {built}; {args.threads} thread(s), p50 and p95 of {args.runs} interleaved rounds per "
              f"repeat; {cpu_name()}")  # fmt: skip
        heads = [f"p50 (ratio), p95; repeat {r + 1}" for r in range(args.repeats)]
        print("\n| model | tokens | " + " | ".join(heads) + " |")
        print("|---|---|" + "---|" * args.repeats)
        for tokens in args.tokens:
            inputs = fixed_length_inputs(tokenizer, tokens)
            repeats = [interleaved_latency(sessions, inputs, args.runs, seed=r) for r in range(args.repeats)]
            for name in models:
                cells = [f"{lat[name].p50_ms:.2f} ms ({lat[name].p50_ms / lat['reference'].p50_ms:.3f}x)"
                         f", p95 {lat[name].p95_ms:.2f} ms" for lat in repeats]  # fmt: skip
                print(f"| {name} | {tokens} | " + " | ".join(cells) + " |")
        if args.profile:
            inputs = fixed_length_inputs(tokenizer, args.tokens[0])
            print_profiles({name: operator_profile(path, inputs, args.threads, work) for name, path in models.items()})


if __name__ == "__main__":
    main()
