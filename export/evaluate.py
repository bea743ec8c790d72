"""Stage: accuracy on a real labelled set (datasets.py) for three models run the same way on the same texts:
the original fp32 PyTorch model, the optimum/ORT int8 baseline, and the bundle."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .cache import Cache
from .probes import encode_probes
from .targets.base import ModelFiles
from .tasks import LabelledSet

TORCH_BATCH = 64  # fp32 PyTorch outputs do not depend on the batch (to ~1e-6), so batch for speed

# ONNX models are scored one text at a time, as an app runs them. ORT's dynamic int8 quantizes each MatMul's
# activations with one range per call, so a text's result shifts with whatever else is in the batch (padding
# rows included): measured on minilm-l6-sst2, SST-2 dev accuracy 0.8693 at batch 1 and 0.8647 at batch 64
# for the same bundle (benchmarks/sst2_accuracy.py prints both).
APP_BATCH = 1


@dataclass(frozen=True)
class Accuracy:
    dataset: str
    metric: str
    examples: int
    original: float  # fp32 PyTorch, the checkpoint as loaded
    baseline_int8: float  # optimum export + ORT dynamic int8 (arm64 config)
    bundle: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TextBatcher:
    """How texts (or text pairs) become model inputs: the tokenizer, the ONNX input names and the max length."""

    tokenizer: object
    input_names: list[str]
    max_length: int

    def batches(self, texts: list[str], size: int, text_pairs: list[str] | None = None):
        for start in range(0, len(texts), size):
            end = start + size
            second = None if text_pairs is None else text_pairs[start:end]
            yield encode_probes(self.tokenizer, self.input_names, self.max_length, texts[start:end], second)


def torch_text_outputs(
    module, encoder: TextBatcher, texts: list[str], text_pairs: list[str] | None = None
) -> np.ndarray:
    from . import validate

    batches = encoder.batches(texts, TORCH_BATCH, text_pairs)
    return np.concatenate([validate.torch_batch_outputs(module, batch) for batch in batches])


def ort_text_outputs(
    files: ModelFiles,
    encoder: TextBatcher,
    texts: list[str],
    batch_size: int = APP_BATCH,
    postprocess: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    text_pairs: list[str] | None = None,
) -> np.ndarray:
    """Runs the model's first output; `postprocess(output, attention_mask)` turns it into the task's output."""
    from .validate import ort_session

    session = ort_session(files)
    outputs = []
    for batch in encoder.batches(texts, batch_size, text_pairs):
        result = session.run(batch.inputs)
        outputs.append(postprocess(result, batch.inputs["attention_mask"]) if postprocess else result)
    return np.concatenate(outputs)


def pooled(pooling: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The bundle's pooling applied outside the graph, for the baseline (optimum exports last_hidden_state)."""

    def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(hidden.dtype)
            vectors = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    return pool


def bundle_outputs(
    bundle_dir: Path, texts: list[str], batch_size: int = APP_BATCH, text_pairs: list[str] | None = None
) -> np.ndarray:
    """Run a published bundle the way an app does: its tokenizer files, its max length, its input names;
    `text_pairs`: each text's second text, for a pair model."""
    from transformers import AutoTokenizer

    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    names = [i["name"] for i in manifest["model"]["inputs"]]
    encoder = TextBatcher(AutoTokenizer.from_pretrained(bundle_dir), names, manifest["max_length"])
    weights = manifest["model"].get("weights")
    files = ModelFiles(bundle_dir / manifest["model"]["file"], bundle_dir / weights if weights else None)
    return ort_text_outputs(files, encoder, texts, batch_size, text_pairs=text_pairs)


def score_all(data: LabelledSet, original: np.ndarray, baseline: np.ndarray, bundle: np.ndarray) -> Accuracy:
    return Accuracy(
        dataset=data.dataset,
        metric=data.metric,
        examples=data.examples,
        original=data.score(original),
        baseline_int8=data.score(baseline),
        bundle=data.score(bundle),
    )


@dataclass(frozen=True)
class Evaluation:
    """The evaluation step of one export. The fp32 and baseline scores do not depend on the embedding method,
    so they come from `cache` (made once per checkpoint when one process exports many bundles)."""

    data: LabelledSet
    encoder: TextBatcher
    key: tuple  # (checkpoint folder and its contents' digest, task, data path, the data file's sha256, max length)
    cache: Cache
    bundle_encoder: TextBatcher | None = None  # the bundle's (pruned) tokenizer when it is not `encoder`'s

    def original_scores(self, module) -> np.ndarray:
        data = self.data
        return self.cache.get(
            ("fp32 scores", *self.key), lambda _: torch_text_outputs(module, self.encoder, data.texts, data.text_pairs)
        )

    def score(
        self, original: np.ndarray, shipped: ModelFiles, baseline_model: Path, pooling: str | None
    ) -> Accuracy:
        """`pooling`: for embedders, how to pool the baseline's last_hidden_state; None for classifiers."""
        postprocess = pooled(pooling) if pooling else None
        data = self.data
        baseline = self.cache.get(
            ("baseline scores", baseline_model, *self.key),
            lambda _: ort_text_outputs(ModelFiles(baseline_model), self.encoder, data.texts,
                                       postprocess=postprocess, text_pairs=data.text_pairs),
        )
        bundle_encoder = self.bundle_encoder or self.encoder
        bundle = ort_text_outputs(shipped, bundle_encoder, data.texts, text_pairs=data.text_pairs)
        return score_all(data, original, baseline, bundle)
