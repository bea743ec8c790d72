"""Each finished candidate seed's result, one JSON line each in the search's work folder, written as soon as it is
measured: an interrupted search started again with the same settings re-runs none of them. A fingerprint of what
the results depend on (checkpoint, data, budget-independent settings) guards against reusing another search's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

RESULTS = "results.jsonl"
FINGERPRINT = "fingerprint.json"


class ResultStore:
    def __init__(self, folder: Path, fingerprint: dict[str, Any]) -> None:
        self.folder = folder
        stored = folder / FINGERPRINT
        if folder.exists() and (not stored.is_file() or _read(stored) != fingerprint):
            shutil.rmtree(folder)  # another search's results: nothing to reuse
        folder.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
        self._results: dict[tuple[str, int], dict[str, Any]] = {}
        results = folder / RESULTS
        if results.is_file():
            text = results.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):  # a run killed while writing a row: the next row starts afresh
                with results.open("a", encoding="utf-8") as f:
                    f.write("\n")
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # blank, or the last line of a run killed while writing it
                self._results[(row["key"], row["seed"])] = row

    def get(self, key: str, seed: int) -> dict[str, Any] | None:
        return self._results.get((key, seed))

    def put(self, row: dict[str, Any]) -> None:
        self._results[(row["key"], row["seed"])] = row
        with (self.folder / RESULTS).open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
