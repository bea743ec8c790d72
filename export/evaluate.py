"""Accuracy on real labelled data (GLUE TSV layout), for the fp32 PyTorch model and for a bundle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

BATCH = 64


def read_sst2(path: Path) -> tuple[list[str], np.ndarray]:
    """GLUE SST-2 `sentence<TAB>label` with a header; QUOTE_NONE because sentences contain quotes."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])


def torch_logits(checkpoint: Path, texts: list[str], max_length: int) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(texts), BATCH):
            encoded = tokenizer(texts[start : start + BATCH], padding=True, truncation=True,
                                max_length=max_length, return_tensors="pt")  # fmt: skip
            outputs.append(model(**encoded).logits.numpy())
    return np.concatenate(outputs)


def bundle_outputs(bundle_dir: Path, texts: list[str]) -> np.ndarray:
    """Run a bundle the way an app does: its tokenizer files, its max length, its input names."""
    from transformers import AutoTokenizer

    from .probes import encode_probes
    from .validate import ort_session

    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(bundle_dir)
    session = ort_session(bundle_dir / manifest["model"]["file"])
    names = [i["name"] for i in manifest["model"]["inputs"]]
    outputs = []
    for start in range(0, len(texts), BATCH):
        batch = encode_probes(tokenizer, names, manifest["max_length"], texts=texts[start : start + BATCH])
        outputs.append(session.run(None, batch.inputs)[0])
    return np.concatenate(outputs)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())
