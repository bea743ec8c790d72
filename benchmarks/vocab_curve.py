"""What --vocab costs on unseen text, and what keeping more rows buys back: fp32 PyTorch scores on the dev set
with the vocabulary pruned to the task's training sentences, then with more text added to the count.

    python benchmarks/vocab_curve.py [--models sst2 stsb]

Each row prunes the tokenizer (export/vocab, as --vocab does: every domain text counted), slices the
token table to the kept rows and scores the dev set in fp32 PyTorch (no export, no int8: what is left is the
tokenization's effect). Deterministic. Prints a markdown table; the figures are in docs/vocab.md.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

from export.api import export_config
from export.datasets import read_examples, read_texts
from export.embedding.token_stats import read_word_counts
from export.evaluate import TextBatcher, torch_text_outputs
from export.load import load
from export.vocab import coverage, prune_tokenizer, pruned_table

SHARED = Path(__file__).resolve().parents[2] / "shared"
GLUE = SHARED / "data" / "glue"
COMMON = (2000, 5000, 10000)
MODELS = {"sst2": (str(SHARED / "models" / "minilm-l6-sst2"), GLUE / "SST-2"), "stsb": (None, GLUE / "STS-B")}


def extra_rows(tokenizer) -> dict[str, tuple[list[str], int]]:
    """What is kept besides the domain's pieces, by name: (more text for the count, how many of the tokenizer's most
    common pieces). General English from the package's WikiText-2 word counts and ../shared's WikiText-2 validation
    text, every whole-word piece of the vocabulary, or the tokenizer's own commonest pieces (--vocab-common)."""
    words, counts = read_word_counts()
    whole_words = [p for p in tokenizer.get_vocab() if p.isalpha() and not p.startswith("##")]
    return {
        "nothing": ([], 0),
        **{f"the tokenizer's {n:,} most common pieces": ([], n) for n in COMMON},
        "WikiText-2 words seen >= 20 times": ([w for w, n in zip(words, counts, strict=True) if n >= 20], 0),
        "WikiText-2 words seen >= 5 times": ([w for w, n in zip(words, counts, strict=True) if n >= 5], 0),
        "WikiText-2 valid.txt": (read_texts(SHARED / "data" / "wikitext-2" / "valid.txt", "text"), 0),
        "every WikiText-2 word": (words, 0),
        "every whole-word piece": (whole_words, 0),
    }


def curve(key: str) -> list[str]:
    checkpoint, data = MODELS[key]
    examples = read_examples(data)
    loaded = load(export_config("bert", model=checkpoint, evaluate=data), pairs=examples.pairs)
    labelled = loaded.task.labelled_set(examples, loaded.labels)
    domain = read_texts(data / "train.tsv", "text")  # what --vocab counts
    rows = loaded.model.get_input_embeddings().num_embeddings
    dev_texts = examples.texts + (examples.text_pairs or [])

    def score(tokenizer, model) -> float:
        batcher = TextBatcher(tokenizer, loaded.input_names, 256)
        outputs = torch_text_outputs(loaded.task_module(model), batcher, labelled.texts, labelled.text_pairs)
        return labelled.score(outputs)

    whole = score(loaded.tokenizer, loaded.model)
    lines = [f"| {key}: kept besides train.tsv's pieces | rows | dev words split differently | dev {labelled.metric} |",
             "|---|---|---|---|", f"| (whole vocabulary) | {rows:,} | 0 | {whole:.4f} |"]  # fmt: skip
    for name, (more, common) in extra_rows(loaded.tokenizer).items():
        pruned = prune_tokenizer(loaded.tokenizer, domain + more, 1, rows, common)
        model = copy.deepcopy(loaded.model)
        model.set_input_embeddings(pruned_table(loaded.model.get_input_embeddings(), pruned.kept_ids, 0))
        split = coverage(loaded.tokenizer, pruned.tokenizer, dev_texts)["words_split_differently"]
        lines.append(f"| {name} | {len(pruned.kept_ids):,} | {split:.2%} | {score(pruned.tokenizer, model):.4f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    for key in parser.parse_args().models:
        print("\n".join(curve(key)) + "\n")


if __name__ == "__main__":
    main()
