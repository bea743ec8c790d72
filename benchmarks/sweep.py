"""Sweep embedding methods x compression ratios on the real models; accuracy of each exported .ort bundle.

    python benchmarks/sweep.py [--out benchmarks/results/sweep-latest] [--methods svd direction-ae lighttoken]
                               [--ratios 8 16 25 32 50 100 200] [--models stsb sst2 cross] [--seeds 3]
                               [--distill-steps 300] [--encoder int8|int4|... [--encoder-ratio R]]
                               [--target onnx-mobile|onnx]
                               [--vocab off|on|both [--vocab-rest RATIO]]

Every point is a full export (`python -m export bert --embedding M --ratio R --evaluate DATA`): int8 encoder,
.ort file, scored one text at a time. The optimum/ORT int8 baseline and the fp32 scores are built once per model
(export/cache.py). Writes sweep.csv (a row per point, appended as points finish, so a stopped run keeps
what it measured), sweep.md (the table) and sweep.png (accuracy against ratio, one curve per method per model); a
new run starts its folder's three files afresh, so runs to keep side by side each need their own --out.
A ratio a method's sizes cannot land within 5% of is recorded as unreachable. A trained method's fit is a random
draw, as is a distilled encoder and `--vocab-rest`'s codes, so each of their points is exported with seeds 0..N-1
(`--seeds N`) and sweep.md gives the mean, the sample sd and the worst seed; a deterministic method (svd) without
them is exported once. The checked-in results (benchmarks/results/sweep) are rewritten only with `--out` naming them.
`--distill-steps N` distils every point's encoder on its model's training sentences (the GLUE task's train.tsv,
labels unread), about 6 minutes a point on 2 cores. `--encoder` stores every point's encoder with that method
(default int8, as the baseline).
`--vocab on` prunes every point's vocabulary to its model's training sentences; `--vocab both` exports each point
without and with it, for the comparison at equal --ratio (the same bytes: --ratio counts the whole table);
`--vocab-rest R` keeps the rows the training sentences do not use as codes at R instead of dropping them.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from export import Cache, DistillConfig, UserInputError, VocabConfig, build
from export.bundle import published_name
from export.charts import pareto_figure
from export.embedding import make_method, method_type
from export.encoder import EncoderMethod, make_encoder
from export.pipeline import MAX_DISTILL_STEPS
from export.spread import Spread
from runtime_py.machine import cpu_name

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class SweepModel:
    name: str
    checkpoint: str | None  # None: the preset's embedded default
    data: Path  # the GLUE task folder: dev.tsv is scored, train.tsv's sentences are distilled on


MODELS = {
    "stsb": SweepModel("all-MiniLM-L6-v2 (STS-B)", None, SHARED / "data/glue/STS-B"),
    "sst2": SweepModel("minilm-l6-sst2 (SST-2)", str(SHARED / "models/minilm-l6-sst2"), SHARED / "data/glue/SST-2"),
    "cross": SweepModel(
        "minilm-l6-stsb-cross (STS-B pairs)", str(SHARED / "models/minilm-l6-stsb-cross"), SHARED / "data/glue/STS-B"
    ),
}
FIELDS = ["model", "checkpoint", "method", "ratio", "encoder", "vocab", "seed", "achieved_ratio", "metric", "bundle",
          "baseline_int8", "original", "drop_vs_baseline", "model_mb", "fit_seconds", "distill_steps",
          "fidelity_mean_cosine", "export_parity_min_cosine", "baseline_parity_min_cosine", "note"]  # fmt: skip


def _vocab_name(vocab: bool, rest: float | None) -> str:
    if not vocab:
        return ""
    return f"train, rest {rest:g}x" if rest else "train"


def export_point(
    model: SweepModel,
    method: str,
    ratio: float,
    distill_steps: int,
    cache: Cache,
    seed: int,
    encoder: EncoderMethod,
    vocab: bool,
    target: str,
    vocab_rest: float | None,
) -> dict:
    named = {"model": model.name, "method": method, "ratio": ratio, "encoder": _encoder_name(encoder),
             "vocab": _vocab_name(vocab, vocab_rest), "seed": seed}  # fmt: skip
    distill = DistillConfig(text=model.data / "train.tsv", steps=distill_steps) if distill_steps else None
    with tempfile.TemporaryDirectory() as folder:
        try:
            embedding = make_method(method, ratio=ratio)
            report = build(
                "bert", model=model.checkpoint, target=target, embedding=embedding, encoder=encoder,
                evaluate=model.data, distill=distill,
                vocab=VocabConfig(model.data / "train.tsv", rest=vocab_rest) if vocab else None,
                out=Path(folder) / "bundle", seed=seed, cache=cache, progress=False,
                strict=False,  # a point whose int8 encoder misses the parity tolerance is still measured
            ).report  # fmt: skip
        except UserInputError as err:
            return {**named, "note": str(err)}
    accuracy, size = report["accuracy"], report["size"]
    return {
        **named,
        "checkpoint": published_name(report["checkpoint"]),  # as bundle.json names it: report.html marks its panel
        "achieved_ratio": round(size["embedding_ratio_vs_fp32"], 2),
        "metric": f"{accuracy['dataset']} {accuracy['metric']}",
        "bundle": round(accuracy["bundle"], 4),
        "baseline_int8": round(accuracy["baseline_int8"], 4),
        "original": round(accuracy["original"], 4),
        "drop_vs_baseline": round(accuracy["baseline_int8"] - accuracy["bundle"], 4),
        "model_mb": round(size["model_bytes"] / 1e6, 2),
        "fit_seconds": round(report["timing"]["stages"]["compress"], 1),
        "distill_steps": report["distill"]["steps"] if report["distill"] else 0,
        "fidelity_mean_cosine": round(report["fidelity"]["mean_cosine"], 4),
        "export_parity_min_cosine": round(report["parity"]["min_cosine"], 4),
        "baseline_parity_min_cosine": round(report["parity"]["tolerance"]["baseline_min_cosine"], 4),
        "note": "",
    }


def _encoder_name(encoder: EncoderMethod) -> str:
    ratio = getattr(encoder, "ratio", None)
    return encoder.name + (f" {ratio:g}x" if ratio else "") + (" calibrated" if encoder.calibrated else "")


def summarise(rows: list[dict]) -> list[dict]:
    """One row per (model, method, ratio, encoder, vocab): the seeds' bundle scores and drops as Spreads, in
    first-seen order."""
    points: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["model"], r["method"], float(r["ratio"]), r.get("encoder") or "int8", r.get("vocab") or "")
        points.setdefault(key, []).append(r)
    summary = []
    for (model, method, ratio, encoder, vocab), seeds in points.items():
        measured = [r for r in seeds if not r.get("note")]
        if not measured:
            summary.append({"model": model, "method": method, "ratio": ratio, "encoder": encoder, "vocab": vocab,
                            "note": seeds[0]["note"]})  # fmt: skip
            continue
        first = measured[0]
        summary.append({
            "encoder": encoder,
            "vocab": vocab,
            **{k: first[k] for k in ("model", "method", "ratio", "achieved_ratio", "metric", "baseline_int8",
                                     "original", "model_mb")},
            "bundle": Spread.of([float(r["bundle"]) for r in measured]),
            "drop": Spread.of([float(r["drop_vs_baseline"]) for r in measured], higher_is_better=False),
            "fit_seconds": sum(float(r["fit_seconds"]) for r in measured) / len(measured),
        })  # fmt: skip
    return summary


def write_table(rows: list[dict], path: Path) -> None:
    lines = [f"Seeds per trained point: mean ± sample sd, and the worst seed. CPU: {cpu_name()}.", "",
             "| model | method | ratio | encoder | vocab | achieved | seeds | bundle | worst | baseline int8 | drop | "
             "worst drop | model MB | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in summarise(rows):
        if r.get("note"):  # "unreachable" where no size of the method lands near the ratio, else what went wrong
            note = "unreachable" if "cannot reach ratio" in r["note"] else r["note"].replace("|", "\\|")
            lines.append(f"| {r['model']} | {r['method']} | {r['ratio']:g} | {r['encoder']} | {r['vocab'] or '—'} "
                         f"| {note} | | | | | | | | |")  # fmt: skip
            continue
        bundle, drop = r["bundle"], r["drop"]
        lines.append(f"| {r['model']} | {r['method']} | {r['ratio']:g} | {r['encoder']} | {r['vocab'] or '—'} | "
                     f"{float(r['achieved_ratio']):.1f}x | "
                     f"{bundle.n} | {bundle.text()} | {bundle.worst:.4f} | {float(r['baseline_int8']):.4f} | "
                     f"{drop.text(signed=True)} | {drop.worst:+.4f} | {float(r['model_mb']):.2f} | "
                     f"{r['fit_seconds']:.0f} |")  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plot(rows: list[dict], path: Path) -> None:
    measured = [r for r in rows if not r.get("note")]
    if not measured:  # nothing to draw; and no earlier run's chart left beside this run's table
        path.unlink(missing_ok=True)
        return
    pareto_figure(measured).savefig(path, dpi=120)  # the same curves report.html draws


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every setting refused before sweep.csv is opened (afresh): a typo in a method once emptied a results
    folder's CSV and then failed, and a bad ratio or step count was recorded as "unreachable"."""
    try:
        for method in args.methods:
            for ratio in args.ratios:
                make_method(method, ratio=ratio)  # make() checks the settings
    except UserInputError as err:
        parser.error(str(err))
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1 (got {args.seeds})")
    if not (args.distill_steps == 0 or 1 <= args.distill_steps <= MAX_DISTILL_STEPS):
        parser.error(f"--distill-steps must be 0 (none) or from 1 to {MAX_DISTILL_STEPS:,} (got {args.distill_steps})")
    if args.vocab_rest is not None and (args.vocab == "off" or not 1 < args.vocab_rest < math.inf):
        parser.error("--vocab-rest takes a finite ratio above 1, with --vocab on or both")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # not the checked-in results (benchmarks/results/sweep): a run writes there only when asked to
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/sweep-latest",
                        help="folder for sweep.csv, .md and .png (default benchmarks/results/sweep-latest)")
    parser.add_argument("--methods", nargs="+", default=["svd", "direction-ae", "lighttoken"])
    parser.add_argument("--ratios", nargs="+", type=float, default=[8, 16, 25, 32, 50, 100, 200])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per point of a trained method (default 3)")
    parser.add_argument(
        "--distill-steps",
        type=int,
        default=0,
        help="distil every point's encoder on its model's training sentences (default 0: none)",
    )
    parser.add_argument("--encoder", default="int8", help="encoder method of every point (default int8)")
    parser.add_argument("--encoder-ratio", type=float, help="its ratio, for methods that take one")
    parser.add_argument("--target", default="onnx-mobile", help="export target of every point (default onnx-mobile)")
    parser.add_argument("--vocab", choices=["off", "on", "both"], default="off",
                        help="prune every point's vocabulary to its model's training sentences (--vocab train.tsv); "
                        "both: each point without and with (default off)")  # fmt: skip
    parser.add_argument("--vocab-rest", type=float, metavar="RATIO",
                        help="with --vocab on or both: the rows the training sentences do not use kept as codes at "
                        "RATIO instead of dropped (export's --vocab-rest)")  # fmt: skip
    args = parser.parse_args()
    vocab_settings = {"off": [False], "on": [True], "both": [False, True]}[args.vocab]
    try:
        encoder = make_encoder(args.encoder, **({} if args.encoder_ratio is None else {"ratio": args.encoder_ratio}))
    except UserInputError as err:
        parser.error(str(err))
    check_arguments(parser, args)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "sweep.csv"
    rows = []
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for key in args.models:
            with Cache() as cache:
                for method in args.methods:
                    for ratio in args.ratios:
                        for vocab in vocab_settings:
                            # a trained table, a distilled encoder or --vocab-rest's codes is a draw per seed (as
                            # the search counts them)
                            drawn = method_type(method).stochastic or args.distill_steps or (vocab and args.vocab_rest)
                            for seed in range(args.seeds if drawn else 1):
                                point = export_point(
                                    MODELS[key], method, ratio, args.distill_steps, cache, seed, encoder, vocab,
                                    args.target, args.vocab_rest,
                                )
                                rows.append(point)
                                writer.writerow(point)
                                f.flush()
                                print(point, flush=True)
    write_table(rows, args.out / "sweep.md")
    write_plot(rows, args.out / "sweep.png")
    print((args.out / "sweep.md").read_text())


if __name__ == "__main__":
    main()
