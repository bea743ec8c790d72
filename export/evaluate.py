"""Accuracy on real labelled data (GLUE TSV layout), for the fp32 PyTorch model and for a bundle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

TORCH_BATCH = 64  # fp32 PyTorch outputs do not depend on the batch (to ~1e-6), so batch for speed

# Bundles are scored one text at a time, as an app runs them. ORT's dynamic int8 quantizes each MatMul's
# activations with one range per call, so a text's result shifts with whatever else is in the batch (padding
# rows included): measured on minilm-l6-sst2, SST-2 dev accuracy 0.8693 at batch 1 and 0.8647 at batch 64
# for the same bundle (benchmarks/sst2_accuracy.py prints both).
APP_BATCH = 1


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
        for start in range(0, len(texts), TORCH_BATCH):
            encoded = tokenizer(texts[start : start + TORCH_BATCH], padding=True, truncation=True,
                                max_length=max_length, return_tensors="pt")  # fmt: skip
            outputs.append(model(**encoded).logits.numpy())
    return np.concatenate(outputs)


def bundle_outputs(bundle_dir: Path, texts: list[str], batch_size: int = APP_BATCH) -> np.ndarray:
    """Run a bundle the way an app does: its tokenizer files, its max length, its input names."""
    from transformers import AutoTokenizer

    from .probes import encode_probes
    from .validate import ort_session

    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(bundle_dir)
    session = ort_session(bundle_dir / manifest["model"]["file"])
    names = [i["name"] for i in manifest["model"]["inputs"]]
    outputs = []
    for start in range(0, len(texts), batch_size):
        batch = encode_probes(tokenizer, names, manifest["max_length"], texts=texts[start : start + batch_size])
        outputs.append(session.run(None, batch.inputs)[0])
    return np.concatenate(outputs)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())
