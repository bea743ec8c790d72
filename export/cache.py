"""A cache shared by the builds of one process: what an export is compared with that does not depend on its
compression (the optimum/ORT int8 baseline, the original model's and the baseline's scores on the evaluation
set), made once per checkpoint when one process exports many bundles (benchmarks/sweep.py exports dozens)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Cache:
    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bert-edge-references-")
        self._made: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[Path], T]) -> T:
        """The value made for `key`, made now (in a folder of its own, kept as long as this object) if new."""
        if key not in self._made:
            folder = Path(self._folder.name) / str(len(self._made))
            folder.mkdir()
            self._made[key] = make(folder)
        return self._made[key]

    def close(self) -> None:
        self._folder.cleanup()
        self._made.clear()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
