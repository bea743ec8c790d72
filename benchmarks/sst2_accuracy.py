"""SST-2 dev accuracy of a classifier bundle against its fp32 PyTorch checkpoint.

python benchmarks/sst2_accuracy.py BUNDLE_DIR [--checkpoint ../shared/models/minilm-l6-sst2]
    [--data ../shared/data/glue/SST-2/dev.tsv]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.evaluate import accuracy, bundle_outputs, read_sst2, torch_logits

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--checkpoint", type=Path, default=ROOT.parent / "shared/models/minilm-l6-sst2")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/glue/SST-2/dev.tsv")
    args = parser.parse_args()
    texts, labels = read_sst2(args.data)
    max_length = json.loads((args.bundle / "bundle.json").read_text())["max_length"]
    fp32 = accuracy(torch_logits(args.checkpoint, texts, max_length), labels)
    print(f"| model | SST-2 dev accuracy (n={len(labels)}) | vs fp32 |\n|---|---|---|")
    print(f"| fp32 PyTorch ({args.checkpoint.name}) | {fp32:.4f} | |")
    for batch_size in (1, 64):  # 1 is how apps run it and what reports use; see export/evaluate.py
        bundle = accuracy(bundle_outputs(args.bundle, texts, batch_size), labels)
        print(f"| bundle, batch {batch_size} ({args.bundle}) | {bundle:.4f} | {100 * (bundle - fp32):+.2f} pt |")


if __name__ == "__main__":
    main()
