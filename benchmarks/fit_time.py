"""Fit time of the trained embedding methods, against the budget (3 min for 30522x384, 10 min for 30522x768).

    python benchmarks/fit_time.py [--methods lighttoken direction-ae] [--ratios 8 25 50 100] [--threads 2]
                                  [--tables minilm bert-base xlm-r]

Tables: all-MiniLM-L6-v2's real one (30522x384), and a 30522x768 one built with BERT-base's shape: no 768-wide
checkpoint is available offline, so it is synthetic (a decaying spectrum and lognormal row lengths, seeded).
`--tables xlm-r` adds a synthetic 250002x384 one, the shape of multilingual MiniLM models with XLM-R's vocabulary
(paraphrase-multilingual-MiniLM-L12-v2, multilingual-e5-small: BERT models, the bert preset's); it has no budget in
the issue, so its column shows "-".
Time depends on the shape and the bits much more than on the values: lighttoken alternates decoder refits and
passes over every bit until a round flips under 0.1% of them (12 rounds at most); direction-ae trains a fixed
number of epochs.
"""

from __future__ import annotations

import argparse
import time

import torch

from export.embedding import make_method
from export.embedding.base import RatioOutOfReach
from export.errors import UserInputError
from runtime_py.machine import cpu_name


def minilm_table() -> torch.Tensor:
    from transformers import AutoModel

    from export.load import resolve_checkpoint

    model = AutoModel.from_pretrained(resolve_checkpoint("sentence-transformers/all-MiniLM-L6-v2"))
    return model.get_input_embeddings().weight.detach().float()


def synthetic_table(rows: int, dim: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.exp(0.3 * torch.randn(rows, 1, generator=generator))
    return 0.05 * torch.randn(rows, dim, generator=generator) * torch.linspace(1.0, 0.2, dim) * lengths


TABLES = {  # name: (label, table builder, budget in seconds or None)
    "minilm": ("all-MiniLM-L6-v2 30522x384", minilm_table, 180),
    "bert-base": ("synthetic 30522x768", lambda: synthetic_table(30522, 768), 600),
    "xlm-r": ("synthetic 250002x384", lambda: synthetic_table(250002, 384), None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["lighttoken", "direction-ae"])
    parser.add_argument("--ratios", nargs="+", type=float, default=[8, 25, 50, 100])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=["minilm", "bert-base"])
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be at least 1 (got {args.threads})")
    try:  # before any table is built: a typo was printed as "unreachable"
        for method in args.methods:
            for ratio in args.ratios:
                make_method(method, ratio=ratio)
    except UserInputError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}\n")
    print(f"| table | method | ratio | fit s ({args.threads} threads) | budget s |\n|---|---|---|---|---|")
    for name, build, budget in (TABLES[t] for t in args.tables):
        table = build()
        for method in args.methods:
            for ratio in args.ratios:
                started = time.perf_counter()
                try:
                    make_method(method, ratio=ratio).compress(table)
                    seconds = f"{time.perf_counter() - started:.0f}"
                except RatioOutOfReach:
                    seconds = "unreachable"
                print(f"| {name} | {method} | {ratio:g} | {seconds} | {budget or '-'} |", flush=True)


if __name__ == "__main__":
    main()
