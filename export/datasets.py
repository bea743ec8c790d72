"""Labelled evaluation sets, as a registry of file layouts: every GLUE classification layout (SST-2, CoLA, MRPC,
QQP, RTE, WNLI, QNLI, MNLI), STS-B, and plain CSV / TSV / JSONL files with a `text` column, an optional
`text_pair` column, and a `label` (classes) or `score` (a number) column.

A layout is recognised by its header's column names, and CoLA (which GLUE ships without a header) by its shape.
`--evaluate` takes a GLUE task folder (its dev.tsv, or MNLI's dev_matched.tsv, is read) or a file. Reading gives
Examples; the export's task decides how a model's outputs on them are scored (tasks.py).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import UserInputError

DEV_FILES = ("dev.tsv", "dev_matched.tsv")  # what a GLUE task folder is scored on (MNLI has two dev sets)


@dataclass(frozen=True)
class Layout:
    name: str
    text: str  # column of the (first) text
    text_pair: str | None  # column of the second text of a pair
    target: str  # column of the label or score
    scored: bool = False  # the target is a number to correlate with (STS-B), not a class
    # GLUE's own order of the label names (as the `datasets` library numbers them), used when the checkpoint's
    # config names its labels generically (LABEL_0, LABEL_1, ...)
    label_order: tuple[str, ...] = ()
    # the names behind the numbers a GLUE file writes as labels (SST-2's 1 is positive), matched to a checkpoint's
    # own label names: its label 1 need not be positive
    number_names: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.text, self.text_pair, self.target) if c)


NLI2 = ("entailment", "not_entailment")
# The most specific first: MNLI's header has sentence1/sentence2 too, with gold_label instead of label.
LAYOUTS: tuple[Layout, ...] = (
    Layout("stsb", "sentence1", "sentence2", "score", scored=True),
    Layout("mnli", "sentence1", "sentence2", "gold_label", label_order=("entailment", "neutral", "contradiction")),
    # WNLI has the same columns with labels 0/1, in its own order (0: not_entailment), and an RTE written out by
    # the `datasets` library numbers them the other way: numbers in this layout name nothing for sure
    Layout("rte", "sentence1", "sentence2", "label", label_order=NLI2),
    Layout("qnli", "question", "sentence", "label", label_order=NLI2),
    Layout("qqp", "question1", "question2", "is_duplicate", number_names=("not_duplicate", "duplicate")),
    Layout("mrpc", "#1 String", "#2 String", "Quality", number_names=("not_equivalent", "equivalent")),
    Layout("sst2", "sentence", None, "label", number_names=("negative", "positive")),
    Layout("pairs", "text", "text_pair", "label"),
    Layout("scored-pairs", "text", "text_pair", "score", scored=True),
    Layout("texts", "text", None, "label"),
    Layout("scored-texts", "text", None, "score", scored=True),
)
# GLUE's CoLA dev.tsv has no header: source, label, the author's mark, sentence.
COLA = Layout("cola", "sentence", None, "label", number_names=("unacceptable", "acceptable"))
COLA_COLUMNS = ["source", "label", "author_label", "sentence"]
TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl")
TEXT_COLUMNS = tuple(dict.fromkeys(c for layout in LAYOUTS for c in (layout.text, layout.text_pair) if c))


@dataclass(frozen=True)
class Examples:
    """A labelled set as read: texts (and second texts of pairs) with class labels as written, or scores."""

    dataset: str  # "sst2-dev"
    layout: Layout
    texts: list[str]
    text_pairs: list[str] | None
    targets: list[str]  # class labels as written ("1", "entailment"), or scores as text

    @property
    def pairs(self) -> bool:
        return self.text_pairs is not None

    def scores(self) -> list[float]:
        return [float(v) for v in self.targets]


def data_file(path: Path) -> Path:
    """A GLUE task folder's dev file, or the file itself."""
    if not path.is_dir():
        return path
    found = next((path / name for name in DEV_FILES if (path / name).is_file()), None)
    if found is None:
        raise UserInputError(f"evaluation folder {path} has no {' or '.join(DEV_FILES)}")
    return found


def read_examples(path: Path) -> Examples:
    """Read and check a labelled set before any model is loaded (UserInputError on anything wrong)."""
    file = data_file(path)
    if not file.is_file():
        raise UserInputError(f"evaluation data {path} not found (give a GLUE task folder, or a .tsv, .csv or .jsonl)")
    header, rows = read_table(file)
    layout = find_layout(header)
    if layout is None:
        raise UserInputError(f"{file}: its columns ({', '.join(header)}) match no known layout: a GLUE task's, or "
                             "text, optional text_pair, and label or score")  # fmt: skip
    if not rows:
        raise UserInputError(f"{file} has no rows")
    check_row_lengths(file, header, rows)
    columns = read_columns(file, header, rows, list(layout.columns))
    missing = next(((n, name) for name, values in columns.items() for n, v in enumerate(values, 1) if v is None), None)
    if missing is not None:
        raise UserInputError(f"{file}: object {missing[0]} has no {missing[1]} (or it is null)")
    examples = Examples(
        dataset=f"{layout.name}-{file.stem}",
        layout=layout,
        texts=columns[layout.text],
        text_pairs=columns[layout.text_pair] if layout.text_pair else None,
        targets=[str(v).strip() for v in columns[layout.target]],
    )
    if layout.scored:
        try:
            scores = examples.scores()
        except ValueError as err:
            raise UserInputError(f"{file}: a {layout.target} is not a number ({err})") from None
        bad = next((n for n, v in enumerate(scores, 2) if not math.isfinite(v)), None)
        if bad is not None:
            raise UserInputError(f"{file}: row {bad}'s {layout.target} is {scores[bad - 2]} (scores must be finite)")
        if len(set(scores)) < 2:  # a correlation with a constant is undefined (NaN)
            raise UserInputError(f"{file}: every {layout.target} is {scores[0]:g}; a Spearman correlation needs "
                                 "scores that differ")  # fmt: skip
    return examples


def read_table(file: Path, what: str = "") -> tuple[list[str], list[list[str | None]]]:
    """(header, rows) of a .jsonl (objects, one per line), a .csv, or a tab-separated file. TSVs are read with
    QUOTE_NONE because GLUE sentences contain bare quotes; CSVs with standard quoting. A byte-order mark is
    skipped. CoLA's files have no header: theirs get CoLA's column names. Anything unreadable is a UserInputError
    naming the file (and `what` it was given as)."""
    try:
        header, rows = _read_table(file)
    except (ValueError, csv.Error) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise UserInputError(f"{what + ' ' if what else ''}{file}: not a readable table ({err})") from None
    if find_layout(header) is None and is_cola(header):
        return COLA_COLUMNS, [header, *rows]
    return header, rows


def _read_table(file: Path) -> tuple[list[str], list[list[str | None]]]:
    if file.suffix.lower() == ".jsonl":
        # split at "\n" alone: splitlines() also cuts at U+2028, U+2029 and U+0085, which JSON leaves raw in strings
        lines = file.read_text(encoding="utf-8-sig").split("\n")
        objects = [(n, _json_object(line, n)) for n, line in enumerate(lines, 1) if line.strip()]
        header = list(dict.fromkeys(k for _, o in objects for k in o))
        # a key an object lacks, or holds as null, stays None: read_examples refuses it in a column it reads
        return header, [[_json_field(o, k, n) for k in header] for n, o in objects]
    with file.open(encoding="utf-8-sig", newline="") as f:
        if file.suffix.lower() == ".csv":
            rows = list(csv.reader(f))
        else:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = [r for r in rows if r]
    return (rows[0], rows[1:]) if rows else ([], [])


class NotText(str):
    """A JSONL field that is neither text nor a number (a list, an object, a bool): refused where a column is read
    (`read_columns`), ignored in the columns no layout reads (metadata beside the text)."""

    def __new__(cls, kind: str, line: int) -> NotText:
        value = super().__new__(cls, "")
        value.why = f"line {line} holds a {kind}, not text or a number"
        return value


def _json_field(value: dict, key: str, line: int) -> str | None:
    """A JSONL object's field as text: a string, or a number (a label or a score) as JSON writes it."""
    field = value.get(key)
    if field is None or isinstance(field, str):
        return field
    if isinstance(field, (int, float)) and not isinstance(field, bool):
        return str(field)
    return NotText({bool: "bool", list: "list", dict: "object"}[type(field)], line)


def read_columns(file: Path, header: list[str], rows: list[list[str | None]], names: list[str],
                 what: str = "") -> dict[str, list[str | None]]:  # fmt: skip
    """The values of the columns `names` (each in the header), refusing a name the header gives twice (the first
    would be read, the second ignored) and a JSONL value that is not text or a number, in those columns only."""
    prefix = f"{what + ' ' if what else ''}{file}"
    twice = next((name for name in names if header.count(name) > 1), None)
    if twice is not None:
        raise UserInputError(f"{prefix}: column {twice} twice in the header")
    index = {name: header.index(name) for name in names}
    columns = {name: [row[i] for row in rows] for name, i in index.items()}
    for name, values in columns.items():
        bad = next((v for v in values if isinstance(v, NotText)), None)
        if bad is not None:
            raise UserInputError(f"{prefix}: {name} on {bad.why}")
    return columns


def check_row_lengths(file: Path, header: list[str], rows: list[list[str | None]], what: str = "") -> None:
    """Every row as many columns as the header: a shorter one lacks a field, and a longer one (a tab inside a quoted
    field, which a TSV read with QUOTE_NONE splits) would shift every column after it."""
    bad = next(((n, row) for n, row in enumerate(rows, 2) if len(row) != len(header)), None)
    if bad is not None:
        fewer = "fewer" if len(bad[1]) < len(header) else "more"
        raise UserInputError(f"{what + ' ' if what else ''}{file}: row {bad[0]} has {fewer} columns than the header "
                             f"({len(bad[1])}, not {len(header)})")  # fmt: skip


def _json_object(line: str, number: int) -> dict:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"line {number}: {err.msg}") from None
    except RecursionError:
        raise ValueError(f"line {number}: nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError(f"line {number} is not a JSON object")
    return value


def find_layout(header: list[str]) -> Layout | None:
    names = set(header)
    if set(COLA_COLUMNS) <= names:  # CoLA's columns named (as a --max-drop split writes them): not SST-2's
        return COLA
    return next((layout for layout in LAYOUTS if set(layout.columns) <= names), None)


def is_cola(first_row: list[str]) -> bool:
    return len(first_row) == 4 and first_row[1] in ("0", "1")


def read_texts(path: Path, what: str) -> list[str]:
    """Unlabelled text (for --distill and --vocab; `what` names it in errors): the lines of a .txt file or of a
    folder's .txt files, or the text columns of a table in a layout this module knows (GLUE's, or text/text_pair),
    whose labels are never read. A folder gives its .txt files only, and a GLUE task folder is refused: its
    dev.tsv must never be trained or counted on by accident, and its .txt files are its licence and readme."""
    if path.is_dir() and any((path / name).is_file() for name in ("train.tsv", *DEV_FILES)):
        raise UserInputError(f"{what} {path} is a GLUE task folder: give the file to read, e.g. {path / 'train.tsv'}")
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise UserInputError(f"{what} {path} not found (give a .txt file, a folder of them or a GLUE .tsv)")
    try:
        texts = [line.strip() for f in files for line in _text_lines(f, what)]
    except UnicodeDecodeError as err:
        raise UserInputError(f"{what} {path} is not UTF-8 text ({err.reason})") from None
    return [t for t in texts if t]


def read_text_pairs(path: Path, what: str) -> list[tuple[str, str]] | None:
    """The (first, second) text of each row of a table whose header names a pair layout's two text columns (STS-B's
    sentence1/sentence2, text/text_pair, ...), labels unread; None for plain text, folders and single-text tables."""
    if path.is_dir() or path.suffix.lower() not in TABLE_SUFFIXES or not path.is_file():
        return None
    header, rows = read_table(path, what)
    layout = next((lay for lay in LAYOUTS if lay.text_pair and {lay.text, lay.text_pair} <= set(header)), None)
    if layout is None:
        return None
    check_row_lengths(path, header, rows, what)
    columns = read_columns(path, header, rows, [layout.text, layout.text_pair], what)
    pairs = [((a or "").strip(), (b or "").strip()) for a, b in zip(*columns.values(), strict=True)]  # None: missing
    return [(a, b) for a, b in pairs if a and b]


def _text_lines(path: Path, what: str) -> list[str]:
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return path.read_text(encoding="utf-8-sig").splitlines()  # a byte-order mark is no text
    header, rows = read_table(path, what)
    names = [name for name in TEXT_COLUMNS if name in header]
    if not names:
        raise UserInputError(f"{what} {path} has none of the text columns {', '.join(TEXT_COLUMNS)}")
    check_row_lengths(path, header, rows, what)
    columns = read_columns(path, header, rows, names, what)
    return [value or "" for values in columns.values() for value in values]  # None: a JSONL object without that text
