"""What `--vocab-rest` does to a sized table's budget: the lighttoken table decoded into the fp32 model, one table
for every row against the domain's rows and the rest fitted apart, scored on the dev set with the original tokenizer.

    python benchmarks/vocab_split.py [--models stsb sst2] [--ratio 25] [--seeds 3] [--splits whole rest100 ...]

A split is `whole` (one table: the export without --vocab) or `restR[+N]`: the domain's rows as `--vocab TRAIN
--vocab-common N --vocab-rest R` keeps them (the pieces train.tsv's texts use, the specials, the fallback
alphabet and the tokenizer's N most common pieces, of the rows a text can reach), fitted apart from the rest at R.
Every split gets the same bytes (--ratio against the whole fp32 table). No export and no int8 encoder: what is left
is the table's effect. Prints a markdown table per model: the bits a row, the table's bytes, the dev score for each
seed and the per-row error ‖x̂ − x‖² / ‖x‖² averaged over the dev set's tokens as the model reads them (a pair as a
pair), on the domain's rows and on the rest (for `whole`, the two sets `rest100` splits the rows into). The figures
are in docs/vocab.md.
"""

from __future__ import annotations

import argparse
import copy
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from export.api import export_config
from export.datasets import read_examples, read_texts
from export.embedding.base import CompressedEmbedding
from export.embedding.domain_rest import compress_with_rest
from export.embedding.lighttoken import LightToken
from export.embedding.reachable import reachable_rows
from export.embedding.token_stats import TokenStats
from export.errors import UserInputError
from export.evaluate import TextBatcher, torch_text_outputs
from export.load import load
from export.spread import Spread
from export.vocab import kept_ids

SHARED = Path(__file__).resolve().parents[2] / "shared"
GLUE = SHARED / "data" / "glue"
MODELS = {"sst2": (str(SHARED / "models" / "minilm-l6-sst2"), GLUE / "SST-2"), "stsb": (None, GLUE / "STS-B")}
SPLIT = re.compile(r"whole|rest(\d+(?:\.\d+)?)(?:\+(\d+))?")


@dataclass(frozen=True)
class Split:
    name: str
    rest_ratio: float | None  # None: one table for every row
    common: int


def parse_split(name: str) -> Split:
    match = SPLIT.fullmatch(name)
    if match is None:
        raise ValueError(f"a split is 'whole' or 'restR[+N]', e.g. rest100+5000 (got {name})")
    rest_ratio = float(match.group(1)) if match.group(1) else None
    if rest_ratio is not None and rest_ratio <= 1:
        raise ValueError(f"a rest ratio must be greater than 1 (got {name})")
    return Split(name, rest_ratio, int(match.group(2) or 0))


def split_table(key: str, ratio: float, seeds: int, splits: list[Split]) -> list[str]:
    checkpoint, data = MODELS[key]
    examples = read_examples(data)
    loaded = load(export_config("bert", model=checkpoint, evaluate=data), pairs=examples.pairs)
    labelled = loaded.task.labelled_set(examples, loaded.labels)
    table = loaded.model.get_input_embeddings().weight.detach().float()
    stats = TokenStats(loaded.tokenizer, table.shape[0])
    keep = reachable_rows(loaded.tokenizer, table.shape[0])
    domain_texts = read_texts(data / "train.tsv", "text")  # what --vocab counts
    encoded = loaded.tokenizer(examples.texts, examples.text_pairs)["input_ids"]  # as the model reads the dev set
    dev_counts = torch.bincount(torch.tensor([i for ids in encoded for i in ids]), minlength=table.shape[0]).double()
    batcher = TextBatcher(loaded.tokenizer, loaded.input_names, 256)

    def domain_mask(common: int) -> torch.Tensor:
        kept = kept_ids(loaded.tokenizer, domain_texts, 1, table.shape[0], common).kept_ids
        mask = torch.zeros(table.shape[0], dtype=torch.bool)
        mask[kept] = True
        return mask & keep

    def compressed(split: Split, domain: torch.Tensor, seed: int) -> CompressedEmbedding:
        method = LightToken(ratio=ratio)
        if split.rest_ratio is None:
            return method.compress(table, seed, stats, keep)
        return compress_with_rest(method, table, seed, stats, domain, keep & ~domain, split.rest_ratio)

    def decoded(embedding: CompressedEmbedding) -> torch.Tensor:
        rows = table.clone()  # rows no text can reach stay as they are: nothing looks them up
        with torch.no_grad():
            rows[keep] = embedding(torch.nonzero(keep)[:, 0][None])[0].float()
        return rows

    def score(rows: torch.Tensor) -> float:
        model = copy.deepcopy(loaded.model)
        model.get_input_embeddings().weight.data = rows
        return labelled.score(torch_text_outputs(loaded.task_module(model), batcher, labelled.texts,
                                                 labelled.text_pairs))  # fmt: skip

    def error(rows: torch.Tensor, where: torch.Tensor) -> float:
        relative = ((rows - table) ** 2).sum(1) / (table**2).sum(1)
        return float((relative[where] * dev_counts[where]).sum() / dev_counts[where].sum())

    lines = [f"{key}: original table {score(table):.4f} (dev {labelled.metric}); lighttoken {ratio:g}x, "
             f"seeds 0-{seeds - 1}", "",
             "| split | domain rows | dev tokens outside | bits a row | MB | per seed | mean ± sd | worst | "
             "error, domain / rest |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for split in splits:
        domain = domain_mask(split.common)
        outside = float(dev_counts[keep & ~domain].sum() / dev_counts.sum())
        scores, errors = [], []
        for seed in range(seeds):
            embedding = compressed(split, domain, seed)
            rows = decoded(embedding)
            scores.append(score(rows))
            errors.append((error(rows, domain), error(rows, keep & ~domain)))
        spread = Spread.of(scores)  # sample sd, and the worst seed as every seeded figure is given
        lines.append(f"| {split.name} | {int(domain.sum()):,} | {outside:.1%} | {bits(embedding)} | "
                     f"{embedding.stored_bytes() / 1e6:.3f} | {' '.join(f'{s:.4f}' for s in scores)} | "
                     f"{spread.text()} | {spread.worst:.4f} | {statistics.mean(e[0] for e in errors):.3f} / "
                     f"{statistics.mean(e[1] for e in errors):.3f} |")  # fmt: skip
        print(lines[-1], flush=True)
    return lines


def bits(embedding: CompressedEmbedding) -> str:
    """Code bits a row: one figure for one table, domain / rest for a split."""
    described = embedding.describe()
    if "domain" in described:
        return f"{described['domain']['bits']} / {described['rest']['bits']}"
    return str(described["bits"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=["stsb"])
    parser.add_argument("--ratio", type=float, default=25.0, help="lighttoken's --ratio (default 25)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--splits", nargs="+", default=["whole", "rest100", "rest50", "rest100+5000", "rest100+10000"],
                        help="whole, or restR[+N] (default: the five in docs/vocab.md)")  # fmt: skip
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1 (got {args.seeds})")
    try:
        LightToken(ratio=args.ratio).check()
        splits = [parse_split(name) for name in args.splits]
    except (UserInputError, ValueError) as err:
        parser.error(str(err))
    for key in args.models:
        print("\n".join(split_table(key, args.ratio, args.seeds, splits)) + "\n")


if __name__ == "__main__":
    main()
