"""Command line: flags → build()'s arguments (api.py). Errors the user can fix are one line + exit code."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from typing import Any

from rich.console import Console
from rich.markup import escape

from runtime_py.messages import OneLineParser, one_line

from .api import build, export_config, search
from .config import DISTILL_DEVICES, DistillConfig, ExportConfig, Preset, VocabConfig
from .embedding import EmbeddingMethod, make_method
from .encoder import DEFAULT_ENCODER, EncoderMethod, make_encoder
from .encoder.tucker import SHARES
from .errors import ParityError, UserInputError
from .presets import load_preset, preset_names

EXAMPLES = """\
examples:
  python -m export bert --target onnx-mobile                  # all-MiniLM-L6-v2 sentence embedder, offline
  python -m export bert --model path/to/sst2-classifier --evaluate glue/SST-2 --out bundles/sst2
  python -m export bert --ratio 50 --evaluate glue/STS-B --distill glue/STS-B/train.tsv   # GLUE task folders
  python -m export bert --model path/to/stsb-cross-encoder --evaluate glue/STS-B   # a pair model (reranking)
  python -m export xlm-roberta --model path/to/model --vocab my_app_texts.txt   # only the rows the text uses
  python -m export bert --model path/to/nli-model --evaluate my_pairs.jsonl   # text, text_pair, label columns
  python -m export bert --embedding none                      # the whole token table, int8 like the encoder
  python -m export bert --embedding svd --ratio 8 --target onnx
  python -m export bert --encoder int4                        # 4-bit encoder weights (smaller, slower on x86)
  python -m export roberta --model roberta-base --task feature-extraction   # hub id, needs network

exit codes: 0 done, 1 export parity below the int8 baseline's less the preset's margin (or, with --max-drop,
nothing within budget), 2 bad input (nothing is written), 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
"""


def build_parser() -> argparse.ArgumentParser:
    from .embedding import METHODS
    from .encoder import ENCODERS
    from .targets import TARGETS
    from .tasks import TASKS

    presets = _readable_presets()
    parser = OneLineParser(
        prog="python -m export",
        description="Export a BERT-family model to a small, validated ONNX Runtime bundle: model file, "
        "tokenizer, bundle.json manifest, golden probe outputs and a size/parity report.",
        epilog=_presets(presets) + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("preset", help=f"model family preset from models/: {', '.join(preset_names())}")
    parser.add_argument("--target", default="onnx-mobile", help=_choices(TARGETS, "onnx-mobile"))
    parser.add_argument("--model", help="hub id or local checkpoint folder (default: the preset's checkpoint)")
    parser.add_argument("--task", choices=list(TASKS), help="default: feature-extraction without a classification "
                        "head; with one, text-pair-classification if it has one output (a cross-encoder) or "
                        "--evaluate holds pairs, else text-classification")  # fmt: skip
    parser.add_argument("--embedding", metavar="METHOD",
                        help=_choices(METHODS, f"the preset's: {_preset_embeddings(presets)}"))  # fmt: skip
    parser.add_argument("--ratio", type=float, help="embedding compression ratio vs the whole fp32 table, within 5%% "
                        "(methods that take one; default: the preset's with its method, else the method's own). "
                        "Rows no text can reach are left out of every bundle, so their bytes go to the rows "
                        "kept")  # fmt: skip
    parser.add_argument("--encoder", metavar="METHOD",
                        help="how the encoder's linear layers are stored; "
                        + _choices(ENCODERS, DEFAULT_ENCODER))  # fmt: skip
    parser.add_argument("--encoder-ratio", type=float, metavar="R",
                        help="encoder compression ratio vs its fp32 linear weights (methods that take one: "
                        f"{_encoder_ratios(ENCODERS)})")  # fmt: skip
    parser.add_argument("--encoder-calibrate", action=argparse.BooleanOptionalAction,
                        help="tucker and lowrank: fit the factors to each layer's output on calibration text "
                        "(512 of --distill's training passages, else built-in sentences) rather than to the "
                        "weights alone; a better start for --distill, and far better without it (default: "
                        "on)")  # fmt: skip
    parser.add_argument("--encoder-share", choices=SHARES,
                        help="tucker: the blocks that share one pair of factors U, V: encoder (all of them, the "
                        "paper's; default) or layer (each transformer layer its own pair: a smaller rank at the "
                        "same --encoder-ratio, closer to the layers' outputs once calibrated)")  # fmt: skip
    parser.add_argument("--seed", type=int, help="seed for trained methods (lighttoken: the start of its fit, "
                        "which is then the same on any CPU; direction-ae), distillation and --vocab-rest's codes; "
                        "nothing else reads it (default 0; --max-drop draws its own)")  # fmt: skip
    parser.add_argument("--evaluate", metavar="DATA",
                        help="score the original model, the int8 baseline and the bundle on a labelled set: a "
                        "GLUE task folder (SST-2, CoLA, MRPC, QQP, RTE, WNLI, QNLI, MNLI, STS-B; its dev file is "
                        "read) or file, or a .csv/.tsv/.jsonl with a text column, an optional text_pair column "
                        "and a label or score column. Classes give accuracy; scores give the Spearman "
                        "correlation of a one-output model's output (or of an embedder's cosine between the two "
                        "texts). The result goes into report.json")  # fmt: skip
    parser.add_argument("--distill", metavar="TEXT",
                        help="after compressing, train the model (every weight but the compressed token table) to "
                        "match the original model on "
                        "this unlabelled text: a .txt file or a folder of them, one passage per line (e.g. "
                        "WikiText-2's files), or a GLUE .tsv whose sentences are read without their labels "
                        "(pairs, for a pair model; in-domain text recovers a classifier best); recovers accuracy at "
                        "high ratios; takes minutes")  # fmt: skip
    parser.add_argument("--distill-steps", type=int, metavar="N",
                        help=f"steps of 32 passages (default {DistillConfig.steps}: about 6 min for MiniLM-L6 on 2 "
                        "cores; 600 recover more at 100x)")  # fmt: skip
    parser.add_argument("--distill-lr", type=float, metavar="LR",
                        help="the distillation's learning rate, scaled by a 10-step warm-up times a linear "
                        "decay to 0 over the run (the two overlap: 300 steps reach 0.97 of it, 20 steps 0.55) "
                        f"(default: the encoder method's: {_distill_rates(ENCODERS)})")  # fmt: skip
    parser.add_argument("--distill-device", choices=DISTILL_DEVICES,
                        help="where --distill trains: auto (default) takes a CUDA GPU when torch sees one, else "
                        "the CPU; the bundle is exported and checked on the CPU either way (a GPU's float "
                        "rounding differs from a CPU's, so its bundle's bytes do too)")  # fmt: skip
    parser.add_argument("--vocab", metavar="TEXT",
                        help="keep only the token rows this text of the deployment domain uses (same formats as "
                        "--distill; labels unread), plus the special tokens and a fallback alphabet (single "
                        "characters, bytes) so any text still tokenizes; the tokenizer is rewritten to the kept "
                        "pieces and --ratio still counts against the whole original table")  # fmt: skip
    parser.add_argument("--vocab-min-count", type=int, metavar="N",
                        help="with --vocab: keep a piece when its text uses it at least N times (default "
                        f"{VocabConfig.min_count})")  # fmt: skip
    parser.add_argument("--vocab-common", type=int, metavar="N",
                        help="with --vocab: keep the tokenizer's N most common pieces too (by its own ranking: "
                        "WordPiece/BPE id order, Unigram scores), for words of the language the domain's text "
                        f"missed (default {VocabConfig.common})")  # fmt: skip
    parser.add_argument("--vocab-rest", type=float, metavar="RATIO",
                        help="with --vocab: keep the rows the text does not use as lighttoken codes at RATIO (against "
                        "their fp32 bytes; 100 is about 16 bytes a row) instead of dropping them; the tokenizer is "
                        "left as it is, so every text tokenizes as before and a word the text missed keeps an "
                        "approximation of its own row")  # fmt: skip
    parser.add_argument("--max-drop", type=float, metavar="D",
                        help="search instead of export one setting: the smallest bundle whose drop against the "
                        "optimum/ORT int8 baseline stays within D points of the --evaluate metric (x100: 0.5 is half "
                        "an accuracy point, or 0.005 of Spearman), trying table methods and ratios, encoder methods, "
                        "and --vocab/--distill on and off when given; half of DATA ranks, the other half confirms. "
                        "Exit 1 when nothing is within budget (--no-strict writes the closest)")  # fmt: skip
    parser.add_argument("--objective", choices=["size", "latency"],
                        help="with --max-drop: the smallest bundle, or the fastest: every candidate is timed "
                        "(p50 of one call at 128 tokens on 1 thread, on this machine) and the fastest within "
                        "budget wins, those within 10%% of it counting as tied and the smallest of them winning "
                        "(default size)")  # fmt: skip
    parser.add_argument("--search-minutes", type=float, metavar="N",
                        help="with --max-drop: start no new candidate after N minutes (default 45); an interrupted "
                        "search resumes where it stopped")  # fmt: skip
    parser.add_argument("--sweep", metavar="CSV",
                        help="draw this sweep's Pareto curves (benchmarks/sweep.py's sweep.csv) in report.html, "
                        "with the bundle marked on them when it was evaluated on the same set")  # fmt: skip
    parser.add_argument("--out",
                        help="bundle folder to create (default: bundles/PRESET-METHOD; with --max-drop "
                        "bundles/PRESET-search)")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="replace --out if it exists (only a bundle folder, or an empty one)")
    parser.add_argument("--no-strict", dest="strict", action="store_false",
                        help="keep the bundle even when export parity (bundle vs the PyTorch model carrying the "
                        "same embedding, on the probe texts) falls below what the optimum/ORT int8 baseline keeps "
                        "on this CPU less the preset's margin")  # fmt: skip
    return parser


BROKEN_PRESET = "(its preset file is broken)"


def _readable_presets() -> dict[str, Preset | None]:
    """Every preset for --help, each file read once; None for a broken one (named in one line when it is used,
    not here: --help must still work)."""
    presets: dict[str, Preset | None] = {}
    for name in preset_names():
        try:
            presets[name] = load_preset(name)
        except UserInputError:
            presets[name] = None
    return presets


def _presets(presets: dict[str, Preset | None]) -> str:
    """The presets and what each is for (its file's description), for --help's epilog."""
    lines = [f"  {name:<12} {BROKEN_PRESET if p is None else p.description}" for name, p in presets.items()]
    return "presets (models/*.toml):\n" + "\n".join(lines) + "\n\n"


def _preset_embeddings(presets: dict[str, Preset | None]) -> str:
    spelled = {name: _default_embedding(preset) for name, preset in presets.items()}
    if len(set(spelled.values())) == 1:
        return f"{next(iter(spelled.values()))} for every preset"
    return ", ".join(f"{name} {text}" for name, text in spelled.items())


def _default_embedding(preset: Preset | None) -> str:
    """A preset's default table for --help."""
    if preset is None:
        return BROKEN_PRESET
    embedding = preset.embedding
    return embedding.name + (f" at {embedding.ratio:g}x" if embedding.sized() else "")


def _encoder_ratios(encoders: dict) -> str:
    """The encoder methods that take a ratio, with their defaults, read from the registry."""
    sized = {name: method.ratio for name, method in encoders.items() if "ratio" in {f.name for f in fields(method)}}
    return ", ".join(f"{name} (default {ratio:g})" for name, ratio in sized.items())


def _distill_rates(encoders: dict) -> str:
    """Each encoder method's default --distill-lr, read from the registry; a task's where it differs."""
    by_rate: dict[str, list[str]] = {}
    for name, method in encoders.items():
        by_rate.setdefault(f"{method.distill_learning_rate:g}", []).append(name)
        for task, rate in method.distill_learning_rate_by_task.items():
            by_rate.setdefault(f"{rate:g}", []).append(f"{name} on a {task} model")
    return "; ".join(f"{rate} for {', '.join(names)}" for rate, names in by_rate.items())


def _choices(registry: dict, default: str) -> str:
    lines = [f"{name}: {entry.summary}" for name, entry in registry.items()]
    return "; ".join(lines) + f" (default: {default})"


def build_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags as build()'s keyword arguments."""
    if args.distill is None and args.distill_lr is not None:
        raise UserInputError("--distill-lr sets the rate of --distill; give --distill TEXT too")
    if args.distill is None and args.distill_device is not None:
        raise UserInputError("--distill-device says where --distill trains; give --distill TEXT too")
    if args.distill is None and args.distill_steps is not None:
        raise UserInputError("--distill-steps sets how long --distill trains; give --distill TEXT too")
    distill = None if args.distill is None else DistillConfig(
        args.distill, learning_rate=args.distill_lr, **_given(steps=args.distill_steps, device=args.distill_device)
    )
    if args.vocab is None and args.vocab_rest is not None:
        raise UserInputError("--vocab-rest says how to keep the rows --vocab's text does not use; give --vocab TEXT")
    if args.vocab is None and (args.vocab_min_count is not None or args.vocab_common is not None):
        raise UserInputError("--vocab-min-count and --vocab-common say which pieces --vocab keeps; give --vocab TEXT")
    vocab = None if args.vocab is None else VocabConfig(
        args.vocab, rest=args.vocab_rest, **_given(min_count=args.vocab_min_count, common=args.vocab_common)
    )
    if args.max_drop is None and (args.objective is not None or args.search_minutes is not None):
        raise UserInputError("--objective and --search-minutes steer the --max-drop search; give --max-drop D too")
    return {
        "preset": args.preset,
        "model": args.model,
        "target": args.target,
        "task": args.task,
        "embedding": embedding_from_flags(args, load_preset(args.preset).embedding),
        "encoder": encoder_from_flags(args),
        "evaluate": args.evaluate,
        "distill": distill,
        "vocab": vocab,
        "out": args.out,
        "force": args.force,
        "strict": args.strict,
        "seed": args.seed or 0,
        "sweep": args.sweep,
    }


def to_config(args: argparse.Namespace) -> ExportConfig:
    """The parsed flags as the pipeline's ExportConfig (what build() runs)."""
    return export_config(**build_arguments(args))


def embedding_from_flags(args: argparse.Namespace, preset_default: EmbeddingMethod) -> EmbeddingMethod:
    """--embedding and --ratio over the preset's default. The preset's settings go with its method only:
    `--ratio 50` alone resizes the default method, `--embedding svd` alone takes svd's own defaults."""
    name = args.embedding or preset_default.name
    settings = asdict(preset_default) if name == preset_default.name else {}
    if args.ratio is not None:
        settings["ratio"] = args.ratio
    return make_method(name, **settings)


def encoder_from_flags(args: argparse.Namespace) -> EncoderMethod:
    settings: dict[str, Any] = {} if args.encoder_ratio is None else {"ratio": args.encoder_ratio}
    if args.encoder_calibrate is not None:
        settings["calibrate"] = args.encoder_calibrate
    if args.encoder_share is not None:
        settings["share"] = args.encoder_share
    return make_encoder(args.encoder or DEFAULT_ENCODER, **settings)


def search_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags as search()'s keyword arguments; the settings it chooses itself are refused."""
    given = {"--embedding": args.embedding, "--ratio": args.ratio, "--encoder": args.encoder,
             "--encoder-ratio": args.encoder_ratio, "--encoder-calibrate": args.encoder_calibrate,
             "--encoder-share": args.encoder_share,
             "--sweep": args.sweep, "--seed": args.seed}  # fmt: skip
    chosen = [flag for flag, value in given.items() if value is not None]
    if chosen:
        raise UserInputError(f"--max-drop chooses the settings itself; leave out {', '.join(chosen)}")
    arguments = build_arguments(args)
    for name in ("embedding", "encoder", "seed", "sweep"):
        del arguments[name]
    return {**arguments, "max_drop": args.max_drop,
            **_given(objective=args.objective, search_minutes=args.search_minutes)}  # fmt: skip


def _given(**flags: Any) -> dict[str, Any]:
    """The flags that were given, as keyword arguments: a flag left out is None (so one given without the flag it
    qualifies can be refused) and is left out of the call, so the callee's own default applies."""
    return {name: value for name, value in flags.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.max_drop is not None:
            search(**search_arguments(args))
        else:
            build(**build_arguments(args))
    except (UserInputError, ParityError) as err:
        # the message quotes paths and values the user gave: printed as they are, not read as markup
        Console(stderr=True).print(f"[red]error:[/] {escape(one_line(str(err)))}", highlight=False, soft_wrap=True)
        return err.exit_code
    return 0
