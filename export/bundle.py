"""The bundle: the one contract between the exporter, runtime_py and the Android app.

bundle.json lists every file a consumer needs with its sha256; golden.json carries the probes' token ids, the
fp32 PyTorch outputs (with and without the compressed embedding) and the bundle's own outputs. The reports
(report.json / report.md) describe the run, hold its timings, and are not part of the manifest, so everything
in the manifest is byte-identical across runs with the same inputs and seed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from runtime_py.manifest import FORMAT_VERSION, sha256

from .errors import UserInputError

TOOLS = ("bert-edge", "torch", "transformers", "optimum-onnx", "onnx", "onnxruntime", "tokenizers")


def check_output_folder(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserInputError(f"output path {out} exists and is not a folder")
    if out.exists() and not force:
        raise UserInputError(f"output folder {out} already exists; pass --force to replace it")


@contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out`; it is removed (with any parent folders made for it) on failure."""
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # innermost first
            with_contents = any(folder.iterdir()) if folder.exists() else True
            if not with_contents:
                folder.rmdir()
        raise


def publish(staging: Path, out: Path) -> None:
    """Move the finished bundle into place, replacing an old one only at the very end."""
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)


def save_tokenizer(tokenizer, folder: Path) -> list[str]:
    before = set(folder.iterdir())
    tokenizer.save_pretrained(folder)
    return sorted(p.name for p in set(folder.iterdir()) - before)


def tool_versions() -> dict[str, str]:
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def rounded(values: np.ndarray) -> list:
    """float32 outputs as JSON numbers: 8 decimals is far below every tolerance and keeps files stable."""
    return np.round(values.astype(np.float64), 8).tolist()


def write_golden(folder: Path, probes, original: np.ndarray, reference: np.ndarray, outputs: np.ndarray) -> None:
    rows = [
        {"text": text, "input_ids": ids, "reference": rounded(ref), "original": rounded(orig), "bundle": rounded(out)}
        for text, ids, ref, orig, out in zip(probes.texts, probes.token_ids, reference, original, outputs, strict=True)
    ]
    write_json(
        folder / "golden.json",
        {
            "format_version": FORMAT_VERSION,
            "note": "reference: fp32 PyTorch with the bundle's compressed embedding, what the bundle is held to "
            "within its tolerance; original: fp32 PyTorch, the checkpoint as loaded (equal to reference when the "
            "embedding is not compressed); bundle: this bundle's model in onnxruntime",
            "probes": rows,
        },
    )


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """bundle.json, with the sha256 of every file except itself and the reports."""
    skip = {"bundle.json", "report.json", "report.md"}
    files = {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name not in skip}
    write_json(folder / "bundle.json", {"format_version": FORMAT_VERSION, **manifest, "files": files})
