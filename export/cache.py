"""A cache shared by the builds of one process: what an export is compared with that does not depend on its
compression (the optimum/ORT int8 baseline, the original model's and the baseline's scores on the evaluation
set), made once per checkpoint when one process exports many bundles (benchmarks/sweep.py exports dozens)."""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from runtime_py.manifest import sha256

from .config import expanded

T = TypeVar("T")


class Cache:
    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bert-edge-references-")
        self._made: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[Path], T]) -> T:
        """The value made for `key`, made now (in a folder of its own, kept as long as this object) if new."""
        if key not in self._made:  # a folder of its own even where an earlier make() failed and left its folder
            folder = Path(tempfile.mkdtemp(dir=self._folder.name))
            self._made[key] = make(folder)
        return self._made[key]

    def close(self) -> None:
        self._folder.cleanup()
        self._made.clear()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def contents_digest(path: str | Path | None) -> str | None:
    """sha256 over the files directly in `path` and the config.json of each sentence-transformers module it lists
    (each path and its sha256, in path order), or over the file itself; None for what is not a local path (a hub
    name). What the exporter reads of a checkpoint, a data folder or a text folder is at its top, but for those
    modules' settings (1_Pooling/config.json: the pooling the fp32 and baseline scores are made with); other
    subfolders' files (a trainer's checkpoint-N/, .git/) are never read. Part of a cached value's key wherever it
    was made from files that may change in place (a checkpoint saved again, data edited), since a path alone names
    both; each file's digest is remembered by its size and time."""
    root = expanded(path) if path is not None else None
    if root is None or not root.exists():
        return None
    if not root.is_dir():
        return hashlib.sha256(f"{root.name}\0{_file_digest(root)}\n".encode()).hexdigest()
    files = sorted(p for p in [*root.iterdir(), *_module_configs(root)] if p.is_file())
    listing = "".join(f"{file.relative_to(root).as_posix()}\0{_file_digest(file)}\n" for file in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _module_configs(folder: Path) -> list[Path]:
    """The config.json of each module a sentence-transformers modules.json lists (none if it cannot be read: the
    loader refuses such a checkpoint in one line)."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        return [folder / module["path"] / "config.json" for module in modules if module.get("path")]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


@functools.cache
def _digest_of(path: Path, size: int, modified_ns: int) -> str:
    return sha256(path)


def _file_digest(file: Path) -> str:
    """A checkpoint is hashed once per process, not at every load of it (a search loads it per candidate)."""
    facts = file.stat()
    return _digest_of(file.resolve(), facts.st_size, facts.st_mtime_ns)
