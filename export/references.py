"""What an export is compared with that does not depend on its embedding method: the optimum/ORT int8 baseline
and the original model's and the baseline's scores on the evaluation set. One process exporting many bundles of
the same checkpoint (benchmarks/sweep.py exports dozens) builds each of them once."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class References:
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

    def __enter__(self) -> References:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
