"""SST-2 dev accuracy of a classifier bundle against its fp32 PyTorch checkpoint.

python benchmarks/sst2_accuracy.py BUNDLE_DIR [--checkpoint ../shared/models/minilm-l6-sst2]
    [--data ../shared/data/glue/SST-2/dev.tsv]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from export.evaluate import bundle_outputs
from export.tasks import load_set
from runtime_py.machine import cpu_name

ROOT = Path(__file__).resolve().parents[1]


def fp32_logits(checkpoint: Path, texts: list[str], max_length: int) -> np.ndarray:
    """The checkpoint as transformers runs it, independent of the exporter's own graph."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        return np.concatenate([
            model(**tokenizer(texts[i : i + 64], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")).logits.numpy()
            for i in range(0, len(texts), 64)
        ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--checkpoint", type=Path, default=ROOT.parent / "shared/models/minilm-l6-sst2")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/glue/SST-2/dev.tsv")
    args = parser.parse_args()
    manifest = json.loads((args.bundle / "bundle.json").read_text())
    # GLUE's 0/1 mapped by the model's own label names (a checkpoint labelled POSITIVE, NEGATIVE scored inverted)
    data = load_set(args.data, "text-classification", manifest["labels"])
    fp32 = data.score(fp32_logits(args.checkpoint, data.texts, manifest["max_length"]))
    print(f"CPU: {cpu_name()}; for the ratio to the optimum/ORT int8 baseline, export with --evaluate (report.json)\n")
    print(f"| model | SST-2 dev accuracy (n={data.examples}) | vs fp32 |\n|---|---|---|")
    print(f"| fp32 PyTorch ({args.checkpoint.name}) | {fp32:.4f} | |")
    for batch_size in (1, 64):  # 1 is how apps run it and what reports use; see export/evaluate.py
        bundle = data.score(bundle_outputs(args.bundle, data.texts, batch_size))
        print(f"| bundle, batch {batch_size} ({args.bundle}) | {bundle:.4f} | {100 * (bundle - fp32):+.2f} pt |")


if __name__ == "__main__":
    main()
