"""Writing a bundle: the staging folder it is assembled in, golden.json, the tokenizer files, publishing.

bundle.json (runtime_py/manifest.py's Manifest, the contract with runtime_py and the Android app) lists every
file a consumer needs with its sha256; golden.json carries the probes' token ids, the fp32 PyTorch outputs (with
and without the compressed embedding) and the bundle's own outputs. The reports (report.json / report.md /
report.html) describe the run, hold its timings, and are not in the manifest, so every file it lists is
byte-identical across runs with the same inputs and seed.
"""

from __future__ import annotations

import json
import math
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from runtime_py.manifest import FORMAT_VERSION

from .config import expanded
from .errors import ParityError, UserInputError

TOOLS = ("bert-edge", "torch", "transformers", "optimum-onnx", "onnx", "onnxruntime", "tokenizers")


def published_name(checkpoint: str) -> str:
    """The checkpoint as bundle.json names it: a hub name as given, a local folder by its own name, since a path
    is the builder's file system (an absolute one names their home folder) and two spellings of one path would
    give two bundles (report.json keeps the path as given)."""
    path = expanded(checkpoint)
    return path.resolve().name if path.exists() else checkpoint


def check_output_folder(out: Path, force: bool) -> None:
    if out.name in ("", ".", ".."):
        raise UserInputError(f"--out must name the bundle's folder (got {str(out)!r})")
    try:
        exists, link = out.exists(), out.is_symlink()
    except OSError as err:  # a name longer than the file system allows, for one
        raise UserInputError(f"--out {out}: {err.strerror}") from None
    if link:  # publishing renames --out itself: it would move the link, not the folder it names
        raise UserInputError(f"--out {out} is a symbolic link; name the folder itself")
    if exists and not out.is_dir():
        raise UserInputError(f"output path {out} exists and is not a folder")
    if exists and not force:
        raise UserInputError(f"output folder {out} already exists; name another with --out, or pass --force to "
                             "replace it")  # fmt: skip
    if exists and not (out / "bundle.json").is_file() and any(out.iterdir()):
        # --force replaces the whole folder: never one that holds something other than a bundle
        raise UserInputError(f"--force replaces a bundle, and {out} is not one (no bundle.json) and not empty")


STAGING_MARK = ".partial-"  # staging folders are named .NAME.partial-XXXX beside --out


@contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out`, removed (with any parent folders made for it) unless it was published.
    Staging folders of earlier runs for the same `out` whose process died (kill -9 leaves them) are removed
    first."""
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out)
        staging, lock = _new_staging_folder(out)
    except OSError as err:
        _remove_empty(made)
        file = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        reason = f"{file} is a file, not a folder" if file else err.strerror or str(err)
        raise UserInputError(f"cannot write the bundle to {out}: {reason}") from None
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # still there only when it was not published
        _drop_lock(lock, staging)
        _remove_empty(made)


def _new_staging_folder(out: Path) -> tuple[Path, IO[str]]:
    """A folder of a new name beside `out`, and the held lock that marks it live. The lock comes first, so another
    run's remove_stale_staging never finds the folder with its lock not yet held; the folder is made as mkdir makes
    one (the user's umask; mkdtemp's 0700 would be the published bundle's, unreadable to anyone else)."""
    while True:
        staging = out.parent / f".{out.name}{STAGING_MARK}{secrets.token_hex(8)}"
        try:
            lock = _hold_lock(_lock_file(staging))
        except FileExistsError:
            continue
        try:
            staging.mkdir()
        except FileExistsError:  # a folder of that name without its lock: another name
            _drop_lock(lock, staging)
            continue
        except BaseException:
            _drop_lock(lock, staging)
            raise
        return staging, lock


def _drop_lock(lock: IO[str], staging: Path) -> None:
    lock.close()
    _lock_file(staging).unlink(missing_ok=True)


def _remove_empty(folders: list[Path]) -> None:
    """The folders made for the bundle (innermost first), where nothing ended up in them."""
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _lock_file(staging: Path) -> Path:
    """Beside the staging folder, so it never lands in the bundle."""
    return staging.with_name(staging.name + ".lock")


def _hold_lock(path: Path):
    """An open file with an exclusive flock on it: the kernel drops the lock when the process dies, however."""
    handle = path.open("x")  # created here: a name no other run holds
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove `out`'s staging folders that no live process holds (only this exporter's own naming); returns
    them. Without flock (Windows) nothing can tell a dead run's folder from a live one's, so none is removed."""
    if fcntl is None or not out.parent.is_dir():
        return []
    removed = []
    for folder in out.parent.glob(f".{out.name}{STAGING_MARK}*"):
        lock = _lock_file(folder)
        if not folder.is_dir() or not lock.is_file():
            continue
        with lock.open("r") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live export holds it
            shutil.rmtree(folder, ignore_errors=True)
            lock.unlink(missing_ok=True)
        removed.append(folder)
    return removed


def publish(staging: Path, out: Path, force: bool) -> None:
    """Move the finished bundle into place, replacing an old one only at the very end. `out` is checked again: a
    folder made there while the export ran (another export's, the user's) is replaced only as --force allows."""
    check_output_folder(out, force)
    if out.exists():
        for left in out.parent.glob(f".{out.name}.old-*"):  # an earlier publish that was ended between its renames
            shutil.rmtree(left, ignore_errors=True)
        old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")  # a name nothing else holds
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
    """JSON as RFC 8259 has it (no NaN or Infinity, which both runtimes refuse): a figure that is not a finite
    number is written as null."""
    path.write_text(json.dumps(_finite(data), indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def rounded(values: np.ndarray) -> list:
    """float32 outputs as JSON numbers: 8 decimals is far below every tolerance and keeps files stable."""
    return np.round(values.astype(np.float64), 8).tolist()


def write_golden(folder: Path, probes, original: np.ndarray, reference: np.ndarray, outputs: np.ndarray) -> None:
    """golden.json; refused when an output is not a finite number (JSON has none to write, and a bundle whose
    outputs are NaN could never pass its self-check), naming whose it is."""
    made_here = " (a --distill-lr too high, or a broken compression)"
    for name, values, cause in (("checkpoint's fp32", original, ""), ("compressed PyTorch", reference, made_here),
                                ("bundle", outputs, made_here)):  # fmt: skip
        if not np.isfinite(values).all():
            raise ParityError(f"the {name} outputs on the golden probes are not all finite (NaN or infinity): "
                              f"nothing to check a device against{cause}")  # fmt: skip
    rows = [
        {**_probe_input(probes, i), "reference": rounded(ref), "original": rounded(orig), "bundle": rounded(out)}
        for i, (ref, orig, out) in enumerate(zip(reference, original, outputs, strict=True))
    ]
    write_json(
        folder / "golden.json",
        {
            "format_version": FORMAT_VERSION,
            "note": "reference: fp32 PyTorch with the bundle's compressed embedding, what the bundle is held to "
            "within its tolerance; original: fp32 PyTorch with the checkpoint's own token table, on the same "
            "token ids (equal to reference when the embedding is not compressed; with --vocab, the kept rows of the "
            "pruned tokenizer); bundle: this bundle's model in onnxruntime",
            "probes": rows,
        },
    )


def _probe_input(probes, i: int) -> dict[str, Any]:
    """A probe's text (and, for pairs, its second text and token types) and token ids, as golden.json holds it."""
    if probes.text_pairs is None:
        return {"text": probes.texts[i], "input_ids": probes.token_ids[i]}
    types = {} if probes.token_types is None else {"token_type_ids": probes.token_types[i]}
    return {"text": probes.texts[i], "text_pair": probes.text_pairs[i], "input_ids": probes.token_ids[i], **types}
