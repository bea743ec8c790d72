"""compare.py's outputs: the Markdown tables (every figure with its ratio to (b)), the floors, JSON and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

REFERENCE = "b"
FLOOR_RATIO = "50x"  # the bundle the floors are about

# (column title, row field, format); each figure is followed by its ratio to the reference build
SIZE_COLUMNS = [
    ("file MB", "bytes", lambda v: f"{v / 1e6:.2f}"),
    ("zipped MB", "zipped_bytes", lambda v: f"{v / 1e6:.2f}"),
    ("score", "score", lambda v: f"{v:.4f}"),
    ("parity with (a)", "parity", lambda v: f"{v:.4f}"),
    ("export s", "export_seconds", lambda v: f"{v:.1f}"),
    ("export peak MB", "export_peak_rss_mb", lambda v: f"{v:.0f}"),
]
SPEED_COLUMNS = [
    ("p50 ms 16 tok 1 thr", "p50_ms_16tok_1t", lambda v: f"{v:.2f}"),
    ("p50 ms 128 tok 1 thr", "p50_ms_128tok_1t", lambda v: f"{v:.2f}"),
    ("p95 ms 128 tok 1 thr", "p95_ms_128tok_1t", lambda v: f"{v:.2f}"),
    ("p50 ms 16 tok 2 thr", "p50_ms_16tok_2t", lambda v: f"{v:.2f}"),
    ("p50 ms 128 tok 2 thr", "p50_ms_128tok_2t", lambda v: f"{v:.2f}"),
    ("p95 ms 128 tok 2 thr", "p95_ms_128tok_2t", lambda v: f"{v:.2f}"),
    ("load ms", "load_ms", lambda v: f"{v:.0f}"),
    ("peak RSS MB", "peak_rss_mb", lambda v: f"{v:.1f}"),
]


def table(rows: list[dict], columns: list) -> list[str]:
    reference = next(r for r in rows if r["key"] == REFERENCE)
    lines = ["| build | " + " | ".join(title for title, _, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in rows:
        cells = [f"{cell(r, field, fmt)} ({r[field] / reference[field]:.2f}x)" for _, field, fmt in columns]
        lines.append(f"| ({r['key']}) {r['build']} | " + " | ".join(cells) + " |")
    return lines


def cell(row: dict, field: str, fmt) -> str:
    """A figure; a score over several seeds as mean ± sd, worst seed in brackets."""
    if field == "score" and row.get("seeds", 1) > 1:
        return f"{fmt(row['score'])} ± {row['score_sd']:.4f} [worst {row['score_worst']:.4f}]"
    return fmt(row[field])


def floor_checks(rows: list[dict], max_drop: float) -> list[tuple[str, bool]]:
    """The comparison issue's floors for the 50x bundle, each as (what was measured, met)."""
    reference = next(r for r in rows if r["key"] == REFERENCE)
    ours = next((r for r in rows if r["key"] == FLOOR_RATIO), None)
    if ours is None:
        return []
    drop = reference["score"] - ours["score"]  # the seeds' mean
    size = ours["bytes"] / reference["bytes"]
    seeds = f" (mean of {ours['seeds']} seeds)" if ours.get("seeds", 1) > 1 else ""
    checks = [(f"file size {size:.3f}x of (b) ≤ 0.55x", size <= 0.55),
              (f"score drop vs (b) {drop:+.4f}{seeds} ≤ {max_drop:.3f}", drop <= max_drop)]  # fmt: skip
    for threads in (1, 2):
        field = f"p50_ms_128tok_{threads}t"
        ratio = ours[field] / reference[field]
        checks.append((f"p50 latency, 128 tokens, {threads} thread(s): {ratio:.3f}x of (b) ≤ 1.05x", ratio <= 1.05))
    ratio = ours["peak_rss_mb"] / reference["peak_rss_mb"]
    checks.append((f"peak RSS {ratio:.3f}x of (b) ≤ 1x", ratio <= 1.0))
    return checks


def markdown(rows: list[dict], machine: dict, floors: dict[str, float]) -> str:
    lines = [f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['platform']}, "
             f"onnxruntime {machine['onnxruntime']}.", ""]  # fmt: skip
    for model in dict.fromkeys(r["model"] for r in rows):
        group = [r for r in rows if r["model"] == model]
        lines += [f"### {model} ({group[0]['metric']}; parity with (a): {group[0]['parity_measure']})", ""]
        lines += [*table(group, SIZE_COLUMNS), "", *table(group, SPEED_COLUMNS), ""]
        checks = floor_checks(group, floors[model])
        if checks:
            lines += [f"Floors for the {FLOOR_RATIO} bundle:", ""]
            lines += [f"- {'meets' if met else 'MISSES'}: {text}" for text, met in checks]
            lines.append("")
    return "\n".join(lines)


def write_outputs(rows: list[dict], machine: dict, floors: dict[str, float], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, machine, floors)
    (out / "compare.md").write_text(text, encoding="utf-8")
    (out / "compare.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    fields = list(dict.fromkeys(name for r in rows for name in r))
    with (out / "compare.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return text
