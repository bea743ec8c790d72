"""Fit time of the trained embedding methods, against the budget (3 min for 30522x384, 10 min for 30522x768).

    python benchmarks/fit_time.py [--methods lighttoken direction-ae] [--ratios 8 25 50 100] [--threads 2]

Tables: all-MiniLM-L6-v2's real one (30522x384), and a 30522x768 one built with BERT-base's shape: no 768-wide
checkpoint is available offline, so it is synthetic (a decaying spectrum and lognormal row lengths, seeded).
Time depends on the shape and the bits much more than on the values: stages run a fixed number of epochs at
most and stop early when their bits saturate.
"""

from __future__ import annotations

import argparse
import time

import torch

from export.config import EmbeddingConfig
from export.embedding import get_method
from export.errors import UserInputError


def minilm_table() -> torch.Tensor:
    from transformers import AutoModel

    from export.load import resolve_checkpoint

    model = AutoModel.from_pretrained(resolve_checkpoint("sentence-transformers/all-MiniLM-L6-v2"))
    return model.get_input_embeddings().weight.detach().float()


def bert_base_shaped_table() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.exp(0.3 * torch.randn(30522, 1, generator=generator))
    return 0.05 * torch.randn(30522, 768, generator=generator) * torch.linspace(1.0, 0.2, 768) * lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["lighttoken", "direction-ae"])
    parser.add_argument("--ratios", nargs="+", type=float, default=[8, 25, 50, 100])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| table | method | ratio | fit s ({args.threads} threads) | budget s |\n|---|---|---|---|---|")
    for name, table, budget in (("all-MiniLM-L6-v2 30522x384", minilm_table(), 180),
                                ("synthetic 30522x768", bert_base_shaped_table(), 600)):  # fmt: skip
        for method in args.methods:
            for ratio in args.ratios:
                started = time.perf_counter()
                try:
                    get_method(method).compress(table, EmbeddingConfig(method, ratio, 0))
                    seconds = f"{time.perf_counter() - started:.0f}"
                except UserInputError:
                    seconds = "unreachable"
                print(f"| {name} | {method} | {ratio:g} | {seconds} | {budget} |", flush=True)


if __name__ == "__main__":
    main()
