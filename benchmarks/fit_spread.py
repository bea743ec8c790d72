"""How much lighttoken's fit depends on its seed and on the CPU's rounding, without building bundles.

    python benchmarks/fit_spread.py [--models sst2 stsb] [--ratio 25] [--seeds 0 1 2 3 4]

For each model: the table's reachable rows are fitted once per seed, and seed 0 once more with one intra-op thread
instead of two (a different summation order, so different float rounding, as on another CPU). Per fit it prints the
weighted squared error of the reconstruction (the fit's objective), the mean row cosine, and the fp32 PyTorch model
carrying the compressed table scored on the GLUE dev set, with how far its outputs moved from the original model's
(classifiers: predictions flipped and KL divergence ×1000; embedders: mean 1 − cosine ×1000), and a digest of the
fitted module (sha256 over its stored tensors: codes, decoder, bias, frequent rows), so a run on another CPU can be
compared bit for bit. Then the share of code bits equal between the two thread counts (1.0: the same codes), the
seeds' mean ± sd and, for a classifier, where the seeds' flipped predictions lie: how many examples any seed flips and
every seed flips, and how often a seed flips the examples the original model decides by a small logit margin (the
spread between seeds is those coin tosses).

The ONNX bundle adds int8 rounding on top; benchmarks/sweep.py --seeds measures that end to end.
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np
import torch
from sweep import MODELS

from export import evaluate
from export.api import export_config, quiet_libraries
from export.embedding.bits import unpack_bits
from export.embedding.lighttoken import LightToken
from export.embedding.reachable import ReachableRows, reachable_rows
from export.embedding.token_stats import TokenStats
from export.load import load
from export.spread import Spread
from export.tasks import load_set
from runtime_py.machine import cpu_name


def moved(outputs: np.ndarray, original: np.ndarray, classifier: bool) -> str:
    if classifier:
        p = torch.softmax(torch.from_numpy(original).double(), -1)
        q = torch.softmax(torch.from_numpy(outputs).double(), -1)
        kl = float((p * (p.log() - q.log())).sum(-1).mean())
        flips = int((outputs.argmax(-1) != original.argmax(-1)).sum())
        return f"{flips} predictions flipped, KL×1000 {kl * 1000:.2f}"
    return f"1 − cosine ×1000 {float(np.mean(1 - (outputs * original).sum(-1))) * 1000:.2f}"


def digest(module: torch.nn.Module) -> str:
    """First 16 hex digits of a sha256 over the module's stored tensors, in name order."""
    hashed = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        hashed.update(name.encode())
        hashed.update(tensor.contiguous().numpy().tobytes())
    return hashed.hexdigest()[:16]


def run(key: str, ratio: float, seeds: list[int]) -> None:
    model = MODELS[key]
    config = export_config("bert", model=model.checkpoint, evaluate=model.data)
    loaded = load(config)
    data = load_set(config.evaluate, loaded.task.name, loaded.labels)
    encoder = evaluate.TextBatcher(loaded.tokenizer, loaded.input_names, config.preset.max_length)
    original = evaluate.torch_text_outputs(loaded.task_module(), encoder, data.texts)
    table = loaded.model.get_input_embeddings().weight.detach().float()
    keep = reachable_rows(loaded.tokenizer, table.shape[0])
    stats = TokenStats(loaded.tokenizer, table.shape[0]).select(keep)
    kept, share = table[keep], int(keep.sum()) / keep.numel()
    weight = ((stats.counts + 1) ** 0.5).double()
    whole = loaded.model.get_input_embeddings()
    classifier = loaded.task.classifier
    print(f"{model.name}: original {data.metric} {data.score(original):.4f}; CPU {cpu_name()}")
    scores, codes, flipped = [], {}, []
    for seed, threads in [(s, 2) for s in seeds] + [(seeds[0], 1)]:
        torch.set_num_threads(threads)
        module = LightToken(ratio=ratio * share).fit(kept, seed, stats)
        torch.set_num_threads(2)
        codes[seed, threads] = unpack_bits(module.codes)
        with torch.no_grad():
            decoded = module(torch.arange(len(kept))[None])[0]
        error = float((weight * ((decoded - kept).double() ** 2).sum(-1)).sum() / weight.sum())
        cosine = float(torch.nn.functional.cosine_similarity(decoded, kept, dim=-1).mean())
        loaded.model.set_input_embeddings(ReachableRows(module, keep))
        outputs = evaluate.torch_text_outputs(loaded.task_module(), encoder, data.texts)
        loaded.model.set_input_embeddings(whole)
        score = data.score(outputs)
        if threads == 2:
            scores.append(score)
            flipped.append(outputs.argmax(-1) != original.argmax(-1))
        print(f"  seed {seed}, {threads} thread(s): weighted error {error:.5f}, mean cosine {cosine:.4f}, "
              f"fp32 {data.metric} {score:.4f} ({moved(outputs, original, classifier)}), fit {digest(module)}",
              flush=True)  # fmt: skip
    same = float((codes[seeds[0], 1] == codes[seeds[0], 2]).float().mean())
    print(f"  seed {seeds[0]}: code bits equal between 1 and 2 threads: {same:.4f}")
    print(f"  fp32 {data.metric} over seeds {seeds}: {Spread.of(scores).text()} (worst {min(scores):.4f})")
    if classifier:
        print(where_flips_lie(np.stack(flipped), original))


def where_flips_lie(flipped: np.ndarray, original: np.ndarray, margins: tuple[float, ...] = (0.25, 1.0)) -> str:
    """flipped: bool [seeds, examples]; original: the original model's logits [examples, labels]."""
    top2 = np.sort(original, axis=-1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    times = flipped.sum(0)
    some, every = int((times > 0).sum()), int((times == len(flipped)).sum())
    lines = [f"  examples flipped by some seed: {some}, by every seed: {every}"]
    low = 0.0
    for high in (*margins, np.inf):
        band = (margin >= low) & (margin < high)
        share = float(flipped[:, band].mean()) if band.any() else 0.0
        lines.append(f"  original logit margin {low:g}–{high:g}: {int(band.sum())} examples, each flipped by "
                     f"{share:.0%} of the seeds on average")  # fmt: skip
        low = high
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # the classifier and the embedder: a one-output pair model (cross) has no labels to flip and reads pairs
    parser.add_argument("--models", nargs="+", choices=["sst2", "stsb"], default=["sst2", "stsb"])
    parser.add_argument("--ratio", type=float, default=25.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    with quiet_libraries():
        for key in args.models:
            run(key, args.ratio, args.seeds)


if __name__ == "__main__":
    main()
