"""The report's charts, drawn with matplotlib: the size breakdown and the Pareto curves of a sweep.

Each function returns a Figure; `svg` renders one as an inline <svg> element for report.html (byte-stable: no
date, a fixed id salt), and benchmarks/sweep.py saves the Pareto figure as its PNG.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

from .spread import Spread

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PARTS = (("embedding", "token embedding", "#d62728"), ("encoder", "encoder layers", "#1f77b4"),
         ("other", "everything else", "#7f7f7f"))  # fmt: skip


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _literal(text: str) -> str:
    """A user's string (a sweep column, a path, a candidate key) drawn as written: matplotlib reads text between
    "$" signs as math (an unbalanced "$" failed the export after every stage, "$5 or $10" came out in italics).
    Only these strings are escaped: the log axis's own tick labels are math text."""
    return text.replace("$", r"\$")


def size_breakdown_figure(bars: dict[str, dict[str, int]]) -> Figure:
    """Horizontal stacked bars, one per model file: {bar label: {"embedding", "encoder", "other": bytes}}."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 1.5 + 0.7 * len(bars)))
    labels = list(bars)
    left = [0.0] * len(labels)
    for part, name, color in PARTS:
        widths = [bars[label][part] / 1e6 for label in labels]
        axis.barh(labels, widths, left=left, color=color, label=name)
        for row, (start, width) in enumerate(zip(left, widths, strict=True)):
            if width > 1.5:  # a label fits inside the segment
                axis.text(start + width / 2, row, f"{width:.1f}", ha="center", va="center", color="white")
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axis.invert_yaxis()
    axis.set_xlabel("MB in the shipped model file")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 - 0.1 / len(bars)), ncol=3, fontsize="small")
    figure.tight_layout()
    return figure


SWEEP_FIELDS = ("model", "method", "metric", "achieved_ratio", "bundle", "baseline_int8")


def read_sweep(path: Path) -> list[dict]:
    """benchmarks/sweep.py's CSV, numbers parsed; unreachable points (with a note) are left out. ValueError
    when a column the charts need is missing."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = set(SWEEP_FIELDS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"no column(s) {', '.join(sorted(missing))}")
        rows = [r for r in reader if not r.get("note")]
    for r in rows:
        empty = next((field for field in SWEEP_FIELDS if not (r[field] or "").strip()), None)
        if empty is not None:  # a short row leaves its last fields None
            raise ValueError(f"a row has no {empty} (an empty field, or fewer fields than the header)")
        for field in ("achieved_ratio", "bundle", "baseline_int8"):
            r[field] = float(r[field])
            if not math.isfinite(r[field]) or (field == "achieved_ratio" and r[field] <= 0):
                raise ValueError(f"a row's {field} is {r[field]}: ratios above 0 and finite scores only")
    return rows


def check_sweep(path: Path) -> None:
    """Refuse a --sweep file that is missing or is not a sweep CSV, before any model is loaded."""
    from .errors import UserInputError

    if path.is_dir():
        raise UserInputError(f"--sweep {path} is a folder; give the sweep's CSV file (benchmarks/sweep.py writes "
                             "sweep.csv)")  # fmt: skip
    if not path.is_file():
        raise UserInputError(f"sweep file {path} not found (benchmarks/sweep.py writes sweep.csv)")
    try:
        rows = read_sweep(path)
    except (UnicodeDecodeError, ValueError, csv.Error) as err:
        raise UserInputError(f"{path} is not a sweep CSV ({err})") from None
    if not rows:
        raise UserInputError(f"{path} holds no measured point")


def pareto_figure(rows: list[dict], mark: tuple[str, str, float, float] | None = None) -> Figure:
    """Score against achieved ratio, one panel per sweep model and one curve per method (with its encoder method
    and --vocab when a sweep varied those; the seeds' mean, their sd as error bars), the optimum/ORT int8
    baseline dashed. `mark` = (checkpoint, metric, ratio, score) puts a star on the panel of that checkpoint (as
    bundle.json names it) and metric; on each panel of the metric for a sweep that names no checkpoints (before
    the column)."""
    plt = _pyplot()
    models = sorted({r["model"] for r in rows})
    figure, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for axis, model in zip(axes[0], models, strict=True):
        points = [r for r in rows if r["model"] == model]
        for label in sorted({_curve(r) for r in points}):
            curve = _seed_means([r for r in points if _curve(r) == label])
            ratios, spreads = zip(*curve, strict=True)
            means, sds = [s.mean for s in spreads], [s.sd for s in spreads]
            axis.errorbar(ratios, means, yerr=sds, marker="o", capsize=3, label=_literal(label))
        axis.axhline(points[0]["baseline_int8"], color="grey", linestyle="--", label="optimum/ORT int8")
        if starred(points[0], mark):
            axis.plot([mark[2]], [mark[3]], marker="*", markersize=16, color="black", linestyle="", label="this bundle")
        axis.set_xscale("log")
        axis.set_xlabel("embedding compression ratio vs fp32 (log)")
        axis.set_ylabel(_literal(points[0]["metric"]))
        axis.set_title(_literal(model))
        axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def starred(row: dict, mark: tuple[str, str, float, float] | None) -> bool:
    """Whether the panel of a sweep `row` carries the bundle's star: the metric is the mark's, and the checkpoint
    too where the sweep names its checkpoints."""
    return mark is not None and mark[1] == row["metric"] and row.get("checkpoint", mark[0]) == mark[0]


FAILED_SEED = "a seed failed to export"  # a measured candidate's "skipped: ..." (a later seed's export error)


def _search_groups() -> list[tuple[str, str]]:
    """How a search's measured candidates are drawn: (legend label, colour), the labels budget/run.py's statuses
    (imported here: export.budget imports the reports that import this module)."""
    from .budget.run import FAILED_CONFIRMATION, OVER_BUDGET, WITHIN_BUDGET

    return [(WITHIN_BUDGET, "#2ca02c"), (OVER_BUDGET, "#d62728"), (FAILED_CONFIRMATION, "#ff7f0e"),
            (FAILED_SEED, "#7f7f7f")]  # fmt: skip


def search_figure(candidates: list[dict], max_drop: float, chosen: str, objective: str = "size",
                  tokens: int = 128) -> Figure:  # fmt: skip
    """Model size (or, for the latency objective, p50 at `tokens` tokens: the search's latency_tokens) against drop
    (points) for every measured candidate of a search, the budget as a vertical line and the chosen one starred."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    measured = [c for c in candidates if "worst_drop" in c]
    latency = objective == "latency"

    def y(candidate: dict) -> float:
        return candidate["p50_ms"] if latency else candidate["model_bytes"] / 1e6

    groups = _search_groups()
    statuses = [label for label, _ in groups[:-1]]
    for label, color in groups:
        group = [c for c in measured if (c["status"] if c["status"] in statuses else FAILED_SEED) == label]
        if not group:
            continue
        axis.scatter([c["worst_drop"] for c in group], [y(c) for c in group], label=label, color=color)
        for c in group:
            axis.annotate(_literal(c["key"]), (c["worst_drop"], y(c)), fontsize="x-small")
    picked = [c for c in measured if c["key"] == chosen]
    axis.plot([c["worst_drop"] for c in picked], [y(c) for c in picked], marker="*", markersize=16, color="black",
              linestyle="", label="chosen")  # fmt: skip
    axis.axvline(max_drop, color="grey", linestyle="--", label=f"budget {max_drop:g} pt")
    axis.set_xlabel("drop vs the int8 baseline on the search part (points, worst seed)")
    axis.set_ylabel(f"p50 ms, {tokens} tokens, 1 thread" if latency else "model file (MB)")
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _curve(row: dict) -> str:
    encoder, vocab = row.get("encoder") or "int8", row.get("vocab")
    return row["method"] + ("" if encoder == "int8" else f", {encoder} encoder") + (f", vocab {vocab}" if vocab else "")


def _seed_means(rows: list[dict]) -> list[tuple[float, Spread]]:
    """The seeds of each ratio's point as one Spread of the score, by ratio."""
    scores: dict[float, list[float]] = {}
    for r in rows:
        scores.setdefault(r["achieved_ratio"], []).append(r["bundle"])
    return [(ratio, Spread.of(values)) for ratio, values in sorted(scores.items())]


def svg(figure: Figure) -> str:
    """The figure as an inline <svg> element (no XML prolog), the same bytes for the same figure."""
    plt = _pyplot()
    buffer = io.StringIO()
    # fonttype none: labels stay <text> (smaller, searchable), drawn in the browser's sans-serif
    with plt.rc_context({"svg.hashsalt": "bert-edge", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]
