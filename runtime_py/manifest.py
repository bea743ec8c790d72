"""bundle.json: read it, check its format version, and check every file it lists against its sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the model inputs this runtime knows how to fill
TASKS = ("feature-extraction", "text-classification", "text-pair-classification")
PAIR_TASKS = ("text-pair-classification",)  # the model reads two texts at once (token types 0 and 1)


class BundleError(Exception):
    """A bundle that cannot be used: missing, corrupt, or of a kind this runtime does not know."""


@dataclass(frozen=True)
class Manifest:
    folder: Path
    task: str
    labels: list[str] | None
    max_length: int
    model_file: str
    input_names: list[str]
    output_name: str
    tokenizer_file: str
    pad_id: int
    min_cosine: float
    min_top1_agreement: float
    raw: dict[str, Any]

    @property
    def is_classifier(self) -> bool:
        return self.task != "feature-extraction"

    @property
    def takes_pairs(self) -> bool:
        return self.task in PAIR_TASKS


def read_manifest(folder: Path, verify: bool = True) -> Manifest:
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"bundle folder not found: {folder}")
    raw = _read_json(folder / "bundle.json")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{folder / 'bundle.json'}: format_version {version!r}; this runtime reads {FORMAT_VERSION}")
    if verify:
        for name, digest in raw.get("files", {}).items():
            check_file(folder / name, digest)
    try:
        manifest = _parse(folder, raw)
    except (KeyError, TypeError, ValueError) as err:
        raise BundleError(f"{folder / 'bundle.json'}: missing or malformed field {err}") from None
    unknown = sorted(set(manifest.input_names) - set(INPUTS))
    if unknown:
        raise BundleError(f"{folder / 'bundle.json'}: model inputs {unknown} are not ones this runtime fills")
    if manifest.task not in TASKS:
        raise BundleError(f"{folder / 'bundle.json'}: task {manifest.task!r} is not one of {', '.join(TASKS)}")
    return manifest


def _parse(folder: Path, raw: dict[str, Any]) -> Manifest:
    model, tokenizer, tolerance = raw["model"], raw["tokenizer"], raw["tolerance"]
    return Manifest(
        folder=folder,
        task=raw["task"],
        labels=raw.get("labels"),
        max_length=int(raw["max_length"]),
        model_file=model["file"],
        input_names=[i["name"] for i in model["inputs"]],
        output_name=model["outputs"][0]["name"],
        tokenizer_file=tokenizer["file"],
        pad_id=int(tokenizer["pad_id"]),
        min_cosine=float(tolerance["min_cosine"]),
        min_top1_agreement=float(tolerance["min_top1_agreement"]),
        raw=raw,
    )


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks; the exporter writes bundle.json's hashes with it too."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, expected_sha256: str) -> None:
    if not path.is_file():
        raise BundleError(f"bundle file missing: {path}")
    if sha256(path) != expected_sha256:
        raise BundleError(f"bundle file corrupt (sha256 differs from bundle.json): {path}")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"bundle file missing: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not a JSON object")
    return data
