from __future__ import annotations

import os
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


def _export(folder: Path, *flags: str) -> tuple[Path, dict]:
    import json

    from export.cli import main

    out = folder / "bundle"
    assert main(["bert", "--out", str(out), *flags]) == 0
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def sst2_bundle(tmp_path_factory, shared_assets):
    """(folder, report) of minilm-l6-sst2 exported with the defaults (lighttoken at 25x), scored on SST-2 dev."""
    return _export(tmp_path_factory.mktemp("sst2"), "--model", str(SST2_MODEL), "--evaluate", str(SST2_DIR))


@pytest.fixture(scope="session")
def minilm_bundle(tmp_path_factory, shared_assets):
    """(folder, report) of the default model exported with the defaults (lighttoken at 25x), scored on STS-B dev."""
    return _export(tmp_path_factory.mktemp("minilm-stsb"), "--evaluate", str(STSB_DIR))


@pytest.fixture(scope="session")
def cross_bundle(tmp_path_factory, shared_assets):
    """(folder, report) of the STS-B cross-encoder (a one-output pair model) exported with the defaults
    (lighttoken at 25x), scored on STS-B dev pairs."""
    return _export(tmp_path_factory.mktemp("cross"), "--model", str(CROSS_MODEL), "--evaluate", str(STSB_DIR))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_checkpoint):
    """(folder, report) of a tiny random BERT embedder: for the runtime's fast error-path tests. Its 405-row table
    is too small for the preset's lighttoken at 25x (the decoder alone outweighs the budget), so it stays whole."""
    return _export(tmp_path_factory.mktemp("tiny"), "--model", str(tiny_checkpoint("bert")), "--embedding", "none")
