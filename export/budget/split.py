"""The labelled set split in two, so the search cannot overfit what it reports: candidates are ranked on the
search part, and the chosen bundle's drop is confirmed on the other part, which no decision has seen (until it
fails a pick: the search then goes on to the next, and report.json's `search.confirmations` says so).

The split is fixed (seed 0, whatever --seed is), half and half, stratified by class for classifiers (each class
split in half, a class of odd size giving its extra row to each part in turn), and written as two JSONL files with
the original columns, so every later stage reads them as it reads any labelled set (same layout, same label
mapping)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..datasets import COLA, data_file, find_layout, read_table
from ..errors import UserInputError

SPLIT_SEED = 0
MIN_PART = 20  # examples in each half: fewer score too coarsely to rank anything


@dataclass(frozen=True)
class Split:
    search: Path  # a labelled set file: ranks candidates
    confirm: Path  # a labelled set file: confirms the chosen one
    search_rows: list[int]  # row indices into the original set
    confirm_rows: list[int]


def split_rows(targets: list[str], stratified: bool) -> tuple[list[int], list[int]]:
    """(search rows, confirmation rows), disjoint, covering every row, each sorted."""
    generator = random.Random(SPLIT_SEED)
    groups: dict[str, list[int]] = {}
    for i, target in enumerate(targets):
        groups.setdefault(target if stratified else "", []).append(i)
    search: list[int] = []
    odd = 0  # a class of odd size gives its extra row to the search part and the next one's to the other
    for _, rows in sorted(groups.items()):
        generator.shuffle(rows)
        search += rows[: (len(rows) + 1 - odd) // 2]
        odd ^= len(rows) % 2
    chosen = set(search)
    return sorted(search), [i for i in range(len(targets)) if i not in chosen]


@dataclass(frozen=True)
class PlannedSplit:
    """The split decided and checked, nothing written yet (the search's work folder is made only after it)."""

    file: Path
    header: list[str]
    rows: list[list[str | None]]  # None: a JSONL object without that key
    search_rows: list[int]
    confirm_rows: list[int]

    def write(self, folder: Path) -> Split:
        """The two parts as labelled set files in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        parts = {}
        for name, indices in (("search", self.search_rows), ("confirm", self.confirm_rows)):
            parts[name] = folder / f"{self.file.stem}-{name}.jsonl"
            lines = [json.dumps(dict(zip(self.header, self.rows[i], strict=False)), ensure_ascii=False)
                     for i in indices]  # fmt: skip
            parts[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
        return Split(parts["search"], parts["confirm"], self.search_rows, self.confirm_rows)


def split_labelled_set(path: Path, stratified: bool) -> PlannedSplit:
    """Split `path` (what --evaluate takes) in two; refused when a part would be too small to rank on."""
    file = data_file(path)
    header, rows = read_table(file)
    target = (find_layout(header) or COLA).target
    search, confirm = split_rows([row[header.index(target)].strip() for row in rows], stratified)
    if min(len(search), len(confirm)) < MIN_PART:
        raise UserInputError(f"--max-drop needs at least {MIN_PART} labelled examples in each half of its split "
                             f"({file}'s {len(rows)} split {len(search)} / {len(confirm)})")  # fmt: skip
    return PlannedSplit(file, header, rows, search, confirm)
