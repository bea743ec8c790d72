from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_models import build

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SST2_MODEL = SHARED / "models" / "minilm-l6-sst2"
SST2_DIR = SHARED / "data" / "glue" / "SST-2"
SST2_DEV = SST2_DIR / "dev.tsv"
CROSS_MODEL = SHARED / "models" / "minilm-l6-stsb-cross"
STSB_DIR = SHARED / "data" / "glue" / "STS-B"
WIKITEXT = SHARED / "data" / "wikitext-2"

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def schema_errors(folder: Path) -> list[str]:
    """How a bundle's bundle.json breaks runtime_py/bundle.schema.json (empty: it conforms)."""
    import json

    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "runtime_py" / "bundle.schema.json").read_text())
    manifest = json.loads((folder / "bundle.json").read_text())
    return [f"{list(e.path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(manifest)]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """tiny_checkpoint(kind) → folder with a tiny random model of that kind (built once per session)."""
    cache: dict[str, Path] = {}

    def make(kind: str) -> Path:
        if kind not in cache:
            torch.manual_seed(0)
            cache[kind] = build(kind, tmp_path_factory.mktemp(kind))
        return cache[kind]

    return make


@pytest.fixture(scope="session")
def shared_assets():
    if not SST2_MODEL.is_dir() or not SST2_DEV.is_file():
        pytest.fail(f"../shared is missing ({SHARED}); tests read the real model and data from there")
    return SHARED


@pytest.fixture(scope="session")
def export_cache():
    """One export.Cache for the session's real-model exports: each checkpoint's optimum/ORT int8 baseline and its
    fp32 and baseline scores on a dev set are built once (about 30 s each time they are not)."""
    from export import Cache

    with Cache() as cache:
        yield cache


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m export ARGS` in a process of its own, from the repository root; `env` is added to this process's
    environment (a variable a library reads when it loads needs a fresh process)."""
    command = [sys.executable, "-m", "export", *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environment, timeout=300)


def export_bundle(folder: Path, cache, *flags: str, preset: str = "bert") -> tuple[Path, dict]:
    """`python -m export PRESET --out FOLDER/bundle FLAGS`, through build() with the session's cache (so each
    checkpoint's optimum/ORT baseline is built once a session)."""
    import json

    from export import build
    from export.cli import build_arguments, build_parser

    out = folder / "bundle"
    arguments = build_arguments(build_parser().parse_args([preset, "--out", str(out), *flags]))
    build(**arguments, cache=cache, progress=False)
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def sst2_bundle(tmp_path_factory, shared_assets, export_cache):
    """(folder, report) of minilm-l6-sst2 exported with the defaults (lighttoken at 25x), scored on SST-2 dev."""
    flags = ["--model", str(SST2_MODEL), "--evaluate", str(SST2_DIR)]
    return export_bundle(tmp_path_factory.mktemp("sst2"), export_cache, *flags)


@pytest.fixture(scope="session")
def minilm_bundle(tmp_path_factory, shared_assets, export_cache):
    """(folder, report) of the default model exported with the defaults (lighttoken at 25x), scored on STS-B dev."""
    return export_bundle(tmp_path_factory.mktemp("minilm-stsb"), export_cache, "--evaluate", str(STSB_DIR))


@pytest.fixture(scope="session")
def cross_bundle(tmp_path_factory, shared_assets, export_cache):
    """(folder, report) of the STS-B cross-encoder (a one-output pair model) exported with the defaults
    (lighttoken at 25x), scored on STS-B dev pairs."""
    flags = ["--model", str(CROSS_MODEL), "--evaluate", str(STSB_DIR)]
    return export_bundle(tmp_path_factory.mktemp("cross"), export_cache, *flags)


@pytest.fixture(scope="session")
def sst2_pruned_bundle(tmp_path_factory, shared_assets, export_cache):
    """(folder, report) of minilm-l6-sst2 with its vocabulary pruned to SST-2's training sentences (--vocab) and the
    kept rows stored int8 (--embedding none), scored on SST-2 dev: the pruned bundle the Java core reads too."""
    flags = ["--model", str(SST2_MODEL), "--evaluate", str(SST2_DIR), "--embedding", "none",
             "--vocab", str(SST2_DIR / "train.tsv")]  # fmt: skip
    return export_bundle(tmp_path_factory.mktemp("sst2-pruned"), export_cache, *flags)


@pytest.fixture(scope="session")
def sst2_rest_bundle(tmp_path_factory, shared_assets, export_cache):
    """(folder, report) of minilm-l6-sst2 with the rows SST-2's training sentences use stored int8 and every other
    row as lighttoken codes at 100x (--vocab-rest 100), the tokenizer unchanged, scored on SST-2 dev; seed 0."""
    flags = ["--model", str(SST2_MODEL), "--evaluate", str(SST2_DIR), "--embedding", "none",
             "--vocab", str(SST2_DIR / "train.tsv"), "--vocab-rest", "100"]  # fmt: skip
    return export_bundle(tmp_path_factory.mktemp("sst2-rest"), export_cache, *flags)


@pytest.fixture(scope="session")
def tiny_int4_bundle(tmp_path_factory, tiny_checkpoint, export_cache):
    """(folder, report) of a tiny random BERT embedder with the int4-as-int8 encoder: a bundle with weights.ort,
    the 4-bit decode its runtime runs once at load (export/targets/load_time_decode.py)."""
    flags = ["--model", str(tiny_checkpoint("bert")), "--embedding", "none", "--encoder", "int4-as-int8"]
    return export_bundle(tmp_path_factory.mktemp("tiny-int4"), export_cache, *flags)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_checkpoint, export_cache):
    """(folder, report) of a tiny random BERT embedder: for the runtime's fast error-path tests. Its 405-row table
    is too small for the preset's lighttoken at 25x (its lookup table and decoder alone outweigh the budget), so it
    stays whole."""
    flags = ["--model", str(tiny_checkpoint("bert")), "--embedding", "none"]
    return export_bundle(tmp_path_factory.mktemp("tiny"), export_cache, *flags)
