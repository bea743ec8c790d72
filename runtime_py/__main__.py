"""python -m runtime_py BUNDLE [TEXT ...] [--self-check [--probes N]] [--bench] — see --help."""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from . import bench
from .bundle import Bundle
from .manifest import BundleError
from .messages import OneLineParser, one_line
from .session import check_threads

EPILOG = """examples:
  python -m runtime_py bundles/minilm "a cat sits on the mat" "a kitten on a rug"
  python -m runtime_py bundles/sst2 "what a wonderful film"
  python -m runtime_py bundles/stsb-cross "A man plays guitar." "A man is playing an instrument."   # a pair
  python -m runtime_py bundles/stsb-cross --query "A man plays guitar." "A dog runs." "Someone plays music."
  python -m runtime_py bundles/minilm --self-check
  python -m runtime_py bundles/minilm --self-check --probes 2
  python -m runtime_py bundles/minilm --bench --lengths 16 128 --runs 200 --threads 1
exit codes: 0 done (self-check passed); 1 self-check failed; 2 bad bundle or bad input"""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


MAX_RUNS = 100_000  # a typo's extra digits would time for days


def run_count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_RUNS:
        raise argparse.ArgumentTypeError(f"at most {MAX_RUNS:,} (got {value})")
    return value


def thread_count(text: str) -> int:
    """--threads: session.check_threads's rule."""
    value = positive_int(text)
    try:
        check_threads(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m runtime_py",
        description="Run an exported bundle on onnxruntime (no torch): embed or classify texts, score text pairs "
        "or rerank texts against a query (pair models), replay the bundle's golden probes, or time it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bundle", help="bundle folder written by `python -m export`")
    parser.add_argument("texts", nargs="*", help="texts to embed (similarities are printed) or classify; for a "
                        "pair model, texts two by two as pairs, or with --query the passages to rerank")  # fmt: skip
    parser.add_argument("--query", help="pair models: rerank the texts by their score with this query")
    parser.add_argument("--label", help="pair classifiers: score by this label's probability (default: the label "
                        "that says the texts go together, such as entailment or duplicate, else the second of two)")
    parser.add_argument("--self-check", action="store_true", help="replay golden.json; exit 1 if it fails")
    parser.add_argument(
        "--probes", type=positive_int, help="--self-check replays only golden.json's first N probes (default: all)"
    )
    parser.add_argument("--bench", action="store_true", help="latency p50/p95 at batch 1, and peak memory")
    parser.add_argument("--lengths", type=positive_int, nargs="+",
                        help="--bench sequence lengths (default 16 128, at most the bundle's max_length)")
    parser.add_argument("--runs", type=run_count, help=f"--bench timed runs per length (default 100, at most "
                        f"{MAX_RUNS:,})")  # fmt: skip
    parser.add_argument("--threads", type=thread_count, help="ORT intra-op threads (default: one per core; "
                        "at most 4 a core)")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    if not (args.texts or args.self_check or args.bench):
        print("error: give texts, --self-check or --bench (see --help)", file=sys.stderr)
        return 2
    if args.probes is not None and not args.self_check:
        print("error: --probes goes with --self-check (see --help)", file=sys.stderr)
        return 2
    if args.query is not None and not args.texts:
        print("error: --query needs texts to rerank (see --help)", file=sys.stderr)
        return 2
    if args.label is not None and args.query is None:
        print("error: --label goes with --query (see --help)", file=sys.stderr)
        return 2
    if (args.lengths is not None or args.runs is not None) and not args.bench:
        print("error: --lengths and --runs go with --bench (see --help)", file=sys.stderr)
        return 2
    if args.query is not None and not args.query.strip():  # an unset shell variable, most often
        print("error: --query is empty (see --help)", file=sys.stderr)
        return 2
    try:
        started = time.perf_counter()
        bundle = Bundle.load(args.bundle, threads=args.threads)
        load_ms = (time.perf_counter() - started) * 1000
        code = 0
        if args.texts:
            print_results(bundle, args.texts, args.query, args.label)
        if args.self_check:
            code = print_self_check(bundle, args.probes)
        if args.bench:
            print_bench(bundle, args.lengths or default_lengths(bundle.manifest.max_length), args.runs or 100, load_ms)
        return code
    except (BundleError, ValueError) as err:
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return 2


def print_results(bundle: Bundle, texts: list[str], query: str | None = None, label: str | None = None) -> None:
    if bundle.manifest.takes_pairs:
        print_pair_results(bundle, texts, query, label)
        return
    if query is not None:
        raise ValueError(f"--query reranks with a pair model; this bundle is {bundle.task}")
    if bundle.manifest.is_classifier and bundle.output_width() == 1:  # a regressor: its score
        for text, score in zip(texts, bundle.score(texts), strict=True):
            print(f"{score:.4f}\t{text}")
        return
    if bundle.manifest.is_classifier:
        for text, (name, probability) in zip(texts, bundle.classify(texts), strict=True):
            print(f"{name}\t{probability:.4f}\t{text}")
        return
    vectors = bundle.embed(texts)
    for text, vector in zip(texts, vectors, strict=True):
        head = " ".join(f"{v:+.4f}" for v in vector[:4])
        print(f"[{head} ...] ({vector.shape[0]} dims)\t{text}")
    if len(texts) > 1:
        print("cosine similarity:")
        with np.printoptions(precision=4, suppress=True):
            print(vectors.astype(np.float64) @ vectors.T.astype(np.float64))  # embed() gives unit vectors


def print_pair_results(bundle: Bundle, texts: list[str], query: str | None, label: str | None = None) -> None:
    if query is not None:
        for hit in bundle.rerank(query, texts, label=label):
            print(f"{hit.score:.4f}\t{texts[hit.index]}")
        return
    if len(texts) % 2:
        raise ValueError(f"a pair model reads texts two by two; got {len(texts)} texts (or rerank with --query)")
    pairs = list(zip(texts[::2], texts[1::2], strict=True))
    if bundle.manifest.labels and len(bundle.manifest.labels) > 1:
        for (a, b), (label, probability) in zip(pairs, bundle.classify(pairs), strict=True):
            print(f"{label}\t{probability:.4f}\t{a}\t{b}")
        return
    for (a, b), score in zip(pairs, bundle.score(pairs), strict=True):
        print(f"{score:.4f}\t{a}\t{b}")


def print_self_check(bundle: Bundle, probes: int | None = None) -> int:
    check = bundle.self_check(probes)
    top1 = "" if check.top1_agreement is None else f", top-1 agreement {check.top1_agreement:.3f}"
    subset = check.probes < check.golden_probes
    ran = f"the first {check.probes} of {check.golden_probes}" if subset else f"{check.probes}"
    batch = f" (its batch held all {check.golden_probes}, so not 0 even on the exporting CPU)" if subset else ""
    print(
        f"self-check on {ran} golden probes: {check.measure} {check.min_cosine:.5f} "
        f"(needs {check.min_cosine_required}){top1}, max abs diff {check.max_abs_diff:.2e} vs fp32 reference, "
        f"{check.max_abs_diff_vs_export:.2e} vs the exporter's own run{batch}"
    )
    print("PASS" if check.passed else "FAIL: " + "; ".join(check.failures))
    return 0 if check.passed else 1


def default_lengths(max_length: int) -> list[int]:
    """16 and 128 tokens, each at most what the bundle reads (a checkpoint that reads fewer truncates there)."""
    return sorted({min(16, max_length), min(128, max_length)})


def print_bench(bundle: Bundle, lengths: list[int], runs: int, load_ms: float) -> None:
    threads = bundle.session.session.get_session_options().intra_op_num_threads or "default"
    for tokens in lengths:  # refuse a length the bundle cannot take before the table starts
        bench.check_length(bundle, tokens)
    loaded = f"bundle load (checksums, tokenizer, session) {load_ms:.0f} ms"
    print(f"{bundle.manifest.model_file}: {loaded}, threads {threads}, batch 1, {runs} runs")
    print("| tokens | p50 ms | p95 ms |\n|---|---|---|")
    for tokens in lengths:
        latency = bench.measure(bundle, tokens, runs)
        print(f"| {tokens} | {latency.p50_ms:.2f} | {latency.p95_ms:.2f} |")
    peak = bench.peak_rss_mb()
    print(f"peak RSS of this process: {peak:.0f} MB" if peak is not None else "peak RSS: not available here")


def run() -> None:
    """The process entry of `python -m runtime_py` and the bert-edge-run script."""
    try:
        code = main()
        sys.stdout.flush()  # a reader that left shows here, inside the handler below, not at shutdown
    except KeyboardInterrupt:  # Ctrl-C in a long --bench: a line, not a traceback
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `... | head`: the reader left; end as a shell tool does, quietly, 128 + SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's own flush fails no more
        sys.exit(141)
    sys.exit(code)


if __name__ == "__main__":
    run()
