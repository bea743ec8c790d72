"""How compare.py measures one model file: shipped size, latency, load time and memory, and a build's cost.

Run as a script it is the child process whose peak memory is measured (a fresh interpreter per model, so one
model's allocations cannot hide another's):

    python benchmarks/measure.py MODEL FEED.npz [--threads 1] [--runs 10]   # prints JSON
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime_py.bench import Latency, cut_to_length, filler, summarize
from runtime_py.session import ModelSession, session_options

WARMUP = 10


def zipped_bytes(path: Path) -> int:
    """The file's size deflated in a zip archive, as an APK or an app-store package carries it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, path.name)
    return buffer.tell()


def session(model: Path, threads: int, profile_prefix: Path | None = None) -> ModelSession:
    """A CPU session on `threads` intra-op threads, with the bundle's load-time weights when its bundle.json
    names them; with `profile_prefix`, ORT's per-node profiler on."""
    return ModelSession(model, weights_beside(model), session_options(threads, profile_prefix))


def weights_beside(model: Path) -> Path | None:
    """The load-time weights model of a bundle's model file (bundle.json `model.weights`), if any."""
    manifest = model.parent / "bundle.json"
    if not manifest.is_file():
        return None
    weights = json.loads(manifest.read_text(encoding="utf-8"))["model"].get("weights")
    return model.parent / weights if weights else None


def fixed_length_inputs(tokenizer_file: Path, tokens: int) -> dict[str, np.ndarray]:
    """One text of exactly `tokens` ids (special tokens included), under every input name a BERT takes."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    ids = np.array([tokenizer.encode(filler(tokens)).ids], dtype=np.int64)
    full = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    return cut_to_length(full, tokens)


def feed_for(model: ModelSession, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: inputs[name] for name in model.input_names}


def interleaved_latency(
    sessions: Mapping[str, ModelSession], inputs: Mapping[str, np.ndarray], runs: int, seed: int = 0
) -> dict[str, Latency]:
    """Batch-1 latency of every session on the same inputs. Each round runs every model once, in a shuffled
    order, so drift in the machine's speed (other load, frequency) spreads over all models alike."""
    feeds = {key: feed_for(s, inputs) for key, s in sessions.items()}
    for key, s in sessions.items():
        for _ in range(WARMUP):
            s.run(feeds[key])
    order, seconds = list(sessions), {key: [] for key in sessions}
    shuffle = random.Random(seed).shuffle
    for _ in range(runs):
        shuffle(order)
        for key in order:
            start = time.perf_counter()
            sessions[key].run(feeds[key])
            seconds[key].append(time.perf_counter() - start)
    tokens = inputs["input_ids"].shape[1]
    return {key: summarize(tokens, values) for key, values in seconds.items()}


def memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB. Linux only: unlike getrusage's ru_maxrss, which
    keeps the larger figure of the process that forked us across exec, /proc counts this program alone."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mb: float  # the largest of the command and the processes it waited for


def timed_child(command: list[str]) -> ChildRun:
    """Wall time and peak memory of a command run to completion, through benchmarks/peak_rss.py: a small
    interpreter forks the command, so the figure is the command's own, not ours (see peak_rss.py)."""
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "usage.json"
        wrapper = [sys.executable, str(Path(__file__).with_name("peak_rss.py")), str(result), "--", *command]
        done = subprocess.run(wrapper, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {last[0]}")
        usage = json.loads(result.read_text())
    return ChildRun(usage["seconds"], usage["peak_rss_mb"])


def child_json(command: list[str]) -> dict:
    """A measuring child's JSON line (it reports its own figures)."""
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def load_and_run(model: Path, feed_file: Path, threads: int, runs: int) -> dict[str, float]:
    """What the child measures: memory before loading, session load time, peak memory after `runs` calls."""
    inputs = dict(np.load(feed_file))
    before = memory_mb("VmRSS")
    start = time.perf_counter()
    model_session = session(model, threads)
    load_ms = (time.perf_counter() - start) * 1000
    feed = feed_for(model_session, inputs)
    for _ in range(runs):
        model_session.run(feed)
    return {"rss_before_load_mb": before, "load_ms": load_ms, "peak_rss_mb": memory_mb("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("feed", type=Path, help=".npz of input arrays by name (extra names are ignored)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(load_and_run(args.model, args.feed, args.threads, args.runs)))


if __name__ == "__main__":
    main()
