"""What `--vocab-rest` does to a sized table's budget: the lighttoken table decoded into the fp32 model, one table
for every row against the domain's rows and the rest fitted apart, scored on the dev set with the original tokenizer.

    python benchmarks/vocab_split.py [--models stsb sst2] [--ratio 25] [--seeds 3] [--splits whole rest100 ...]

A split is `whole` (one table: the export without --vocab) or `restR[+N]` (the rows the task's train.tsv uses, plus
the tokenizer's N most common pieces, fitted apart from the rest at R, as `--vocab TRAIN --vocab-common N
--vocab-rest R`). Every split gets the same bytes (--ratio against the whole fp32 table). No export and no int8
encoder: what is left is the table's effect. Prints a markdown table per model: the dev score for each seed and the
per-row error ‖x̂ − x‖² / ‖x‖² averaged over the dev set's tokens, on the domain's rows and on the rest (for
`whole`, the rows train.tsv uses and the others). The figures are in docs/vocab.md.
"""

from __future__ import annotations

import argparse
import copy
import re
import statistics
from pathlib import Path

import torch

from export.api import export_config
from export.datasets import read_examples, read_texts
from export.embedding.domain_rest import compress_with_rest
from export.embedding.lighttoken import LightToken
from export.embedding.reachable import reachable_rows
from export.embedding.token_stats import TokenStats
from export.evaluate import TextBatcher, torch_text_outputs
from export.load import load
from export.vocab import held_out_split, prune_tokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared"
GLUE = SHARED / "data" / "glue"
MODELS = {"sst2": (str(SHARED / "models" / "minilm-l6-sst2"), GLUE / "SST-2"), "stsb": (None, GLUE / "STS-B")}
SPLIT = re.compile(r"whole|rest(\d+(?:\.\d+)?)(?:\+(\d+))?")


def split_table(key: str, ratio: float, seeds: int, splits: list[str]) -> list[str]:
    checkpoint, data = MODELS[key]
    examples = read_examples(data)
    loaded = load(export_config("bert", model=checkpoint, evaluate=data), pairs=examples.pairs)
    labelled = loaded.task.labelled_set(examples, loaded.labels)
    table = loaded.model.get_input_embeddings().weight.detach().float()
    stats = TokenStats(loaded.tokenizer, table.shape[0])
    keep = reachable_rows(loaded.tokenizer, table.shape[0])
    domain_texts = held_out_split(read_texts(data / "train.tsv", "text"))[0]  # what --vocab counts
    dev_ids = [i for t in examples.texts + (examples.text_pairs or []) for i in loaded.tokenizer(t)["input_ids"]]
    dev_counts = torch.bincount(torch.tensor(dev_ids), minlength=table.shape[0]).double()
    batcher = TextBatcher(loaded.tokenizer, loaded.input_names, 256)

    def domain_rows(common: int) -> torch.Tensor:
        kept = prune_tokenizer(loaded.tokenizer, domain_texts, 1, table.shape[0], common).kept_ids
        rows = torch.zeros(table.shape[0], dtype=torch.bool)
        rows[kept] = True
        return rows & keep

    def decoded(split: str, domain: torch.Tensor, seed: int) -> torch.Tensor:
        method = LightToken(ratio=ratio)
        rest_ratio = SPLIT.fullmatch(split).group(1)
        if rest_ratio is None:
            embedding = method.compress(table, seed, stats, keep)
        else:
            embedding = compress_with_rest(method, table, seed, stats, domain, keep & ~domain, float(rest_ratio))
        rows = table.clone()
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
             "| split | domain rows | dev tokens outside | per seed | mean ± sd | error, domain / rest |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for split in splits:
        common = SPLIT.fullmatch(split).group(2)
        domain = domain_rows(int(common or 0))
        outside = float(dev_counts[keep & ~domain].sum() / dev_counts.sum())
        scores, errors = [], []
        for seed in range(seeds):
            rows = decoded(split, domain, seed)
            scores.append(score(rows))
            errors.append((error(rows, domain), error(rows, keep & ~domain)))
        spread = f"{statistics.mean(scores):.4f} ± {statistics.stdev(scores) if seeds > 1 else 0:.4f}"
        lines.append(f"| {split} | {int(domain.sum()):,} | {outside:.1%} | {' '.join(f'{s:.4f}' for s in scores)} | "
                     f"{spread} | {statistics.mean(e[0] for e in errors):.3f} / "
                     f"{statistics.mean(e[1] for e in errors):.3f} |")  # fmt: skip
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=["stsb"])
    parser.add_argument("--ratio", type=float, default=25.0, help="lighttoken's --ratio (default 25)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--splits", nargs="+", default=["whole", "rest100", "rest50", "rest100+5000", "rest100+10000"],
                        help="whole, or restR[+N] (default: the five in docs/vocab.md)")  # fmt: skip
    args = parser.parse_args()
    bad = [s for s in args.splits if not SPLIT.fullmatch(s)]
    if bad:
        parser.error(f"a split is 'whole' or 'restR[+N]', e.g. rest100+5000 (got {', '.join(bad)})")
    for key in args.models:
        print("\n".join(split_table(key, args.ratio, args.seeds, args.splits)) + "\n")


if __name__ == "__main__":
    main()
