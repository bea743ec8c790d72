"""report.json / report.md and the terminal summary table."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runtime_py.machine import machine

from .bundle import write_json
from .report_html import (
    distill_rows,
    earlier_picks,
    gives_one_label,
    measure_name,
    shipped_model_files,
    undecided_note,
    vocab_rows,
    write_html,
)


def build_report(
    config, manifest, built, size, checked, compressed, pruning, distilled, accuracy, stage_seconds, started
) -> dict[str, Any]:
    """report.json's content: what was exported, how, its sizes, parity, fidelity, accuracy and timings."""
    return {
        "preset": config.preset.name,
        "checkpoint": config.checkpoint,
        "task": manifest.task,
        "target": config.target,
        "encoder": {**config.encoder.to_json(), **compressed.encoder_facts},
        "bundle": {"model_file": built.model_file, "weights_file": built.weights_file, "format": built.model_format,
                   "reproducible": built.reproducible},
        "embedding": {
            "method": config.embedding.name,
            "ratio_requested": getattr(config.embedding, "ratio", None),
            "settings": config.embedding.to_json(),
            "seed": config.seed,
            "module_bytes": compressed.embedding.stored_bytes(),
            **compressed.embedding.describe(),
        },
        "config": config.to_json(manifest.task),  # every stage's resolved settings
        "steps": list(compressed.steps),  # what was done to the PyTorch model before export
        "size": size,
        "parity": checked.parity.to_json(),
        "operators": built.operator_check,
        "machine": machine(),  # int8 kernels, and so parity and accuracy, differ by CPU
        "timing": {"export_seconds": time.perf_counter() - started, "stages": dict(stage_seconds)},
        "fidelity": asdict(checked.fidelity),
        "vocab": pruning,  # --vocab's rows kept and dropped, and coverage on held-out text
        "distill": distilled,
        "accuracy": accuracy.to_json() if accuracy else None,
    }


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    size, parity, fidelity = report["size"], report["parity"], report["fidelity"]
    required = parity["tolerance"]
    needs = (f"needs {required['min_cosine']}: the int8 baseline's {required['baseline_min_cosine']:.5f} less "
             f"{required['min_cosine_margin']:g}, rounded down")  # fmt: skip
    rows = [
        ("model file", f"{mb(size['model_bytes'])}  ({' + '.join(shipped_model_files(report))})"),
        ("baseline (optimum + ORT int8)", mb(size["baseline_int8_model_bytes"])),
        ("model vs baseline", f"{_ratio(size['model_bytes'], size['baseline_int8_model_bytes'])} its bytes"),
        ("embedding", f"{mb(size['embedding_bytes'])}  ({report['embedding']['method']}{_left_out(report)})"),
        ("embedding ratio vs fp32", f"{size['embedding_ratio_vs_fp32']:.2f}x"),
        *vocab_rows(report.get("vocab")),
        *distill_rows(report.get("distill")),
        ("encoder", f"{mb(size['encoder_bytes'])}  ({report['encoder']['method']}; "
         f"compression {size['encoder_ratio_vs_fp32']:.2f}x vs fp32, {size['encoder_ratio_vs_int8']:.2f}x vs the "
         "baseline's int8)"),
        (f"export parity: {measure_name(parity)}",
         f"{parity['min_cosine']:.5f}  (vs PyTorch, same embedding; {needs})"),
        ("export parity: max abs diff", f"{parity['max_abs_diff']:.2e}"),
    ]
    if parity["top1_agreement"] is not None:
        rows.append(("export parity: top-1 agreement", f"{parity['top1_agreement']:.3f}{undecided_note(parity)}"))
    rows.append(("export parity", "pass" if parity["passed"] else "FAIL: " + "; ".join(parity["failures"])))
    if measure_name(parity) == "score concordance":
        rows.append(("fidelity: score concordance", f"{fidelity['min_cosine']:.4f}  (vs the original fp32 model)"))
    else:
        rows.append(("fidelity: min / mean cosine", f"{fidelity['min_cosine']:.4f} / {fidelity['mean_cosine']:.4f}  "
                     "(vs the original fp32 model)"))  # fmt: skip
    if fidelity["top1_agreement"] is not None:
        rows.append(("fidelity: top-1 agreement", f"{fidelity['top1_agreement']:.3f}"))
    rows.extend(_accuracy_rows(report.get("accuracy")))
    rows.extend(_search_rows(report.get("search")))
    ops = report.get("operators")
    if ops:
        inside = "inside (operators; its data types are not compared)"
        rows.append(("legacy mobile op set", inside if ops["inside"] else "outside: " + ", ".join(ops["outside"])))
    rows.append(("export time", f"{report['timing']['export_seconds']:.1f} s"))
    return rows


def _accuracy_rows(accuracy: dict[str, Any] | None) -> list[tuple[str, str]]:
    if accuracy is None:
        return []
    name = f"{accuracy['dataset']} {accuracy['metric']}"
    baseline = accuracy["baseline_int8"]
    return [
        (f"{name}: original fp32", f"{accuracy['original']:.4f}"),
        (f"{name}: baseline int8", f"{baseline:.4f}"),
        (f"{name}: bundle", f"{accuracy['bundle']:.4f}  ({accuracy['bundle'] - baseline:+.4f} vs baseline)"),
    ]


def _search_rows(search: dict[str, Any] | None) -> list[tuple[str, str]]:
    if search is None:
        return []
    tried = [c for c in search["candidates"] if "worst_drop" in c]
    chosen = next(c for c in tried if c["key"] == search["chosen"])
    confirmation = search["confirmation"]
    closest = "" if search["within_budget"] else "; none within the budget: the closest, --no-strict"
    return [
        ("search: chosen", f"{chosen['key']}  (budget {search['max_drop']:g} pt, objective {search['objective']}; "
         f"p50 {chosen['p50_ms']:.1f} ms at {search['latency_tokens']} tokens, 1 thread{closest})"),
        ("search: drop, search part", f"{chosen['worst_drop']:+.2f} pt  (worst seed, {search['split']['search']} "
         f"examples; {len(tried)} of {len(search['candidates'])} candidates measured)"),
        ("search: drop, confirmation part", f"{confirmation['drop']:+.2f} pt  (seed {confirmation['seed']}, "
         f"{search['split']['confirm']} examples{earlier_picks(search)})"),
    ]  # fmt: skip


def _left_out(report: dict[str, Any]) -> str:
    unreachable = report["embedding"].get("rows_unreachable")
    return f"; {unreachable:,} rows no text can reach left out" if unreachable else ""


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}x"


def print_summary(console: Console, report: dict[str, Any], out: Path) -> None:
    # Text, not str: rich would read a path's or a label's "[...]" as markup, dropping it or failing on it
    table = Table(title=Text(f"bundle {out}"), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in summary_rows(report):
        table.add_row(Text(name), Text(value))
    console.print(table)
    warning = distillation_warning(report)
    if warning is not None:  # an export's and a search's bundle alike
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


def distillation_warning(report: dict[str, Any]) -> str | None:
    """Said after the summary when the distilled classifier gives one label to every held-out passage and the
    original more. Its held-out loss can fall while that happens (every layer's hidden states outweigh the logits
    in it): a 40-step tucker run did so (docs/distillation.md). A fall of the held-out top-1 agreement is not
    warned of: on 64 passages it is as often noise (a run whose dev accuracy rose like the others' fell as far)."""
    distilled = report.get("distill")
    if not gives_one_label(distilled):
        return None
    said = (f"the distilled model gives one label to all {distilled['held_out_passages']} held-out passages, where "
            f"the original gives {distilled['held_out_labels_original']}")
    if distilled["held_out_labels_before"] == 1:  # the compressed model did so before it trained
        return (f"{said}, as the compressed model did before distilling: more --distill-steps or a less compressed "
                "model may mend it (--evaluate scores either)")
    return (f"{said}: it may answer worse than one exported without --distill; more --distill-steps or a lower "
            "--distill-lr may mend it (--evaluate scores either)")


def _cell(text: str) -> str:
    """A Markdown table cell: a "|" in a path or a failure would end it, and "<" would open raw HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def write_reports(folder: Path, report: dict[str, Any], sweep: Path | None = None) -> None:
    """report.json, report.md and report.html (see report_html.py; `sweep`: a sweep CSV to draw)."""
    write_json(folder / "report.json", report)
    write_html(folder, report, sweep)
    lines = [
        f"# Export report: `{report['checkpoint']}`",
        "",
        f"preset `{report['preset']}`, task `{report['task']}`, target `{report['target']}`, "
        f"embedding `{report['embedding']['method']}`, encoder `{report['encoder']['method']}`",
        "",
        "| | |",
        "|---|---|",
        *(f"| {_cell(name)} | {_cell(value)} |" for name, value in summary_rows(report)),
        "",
        "Timings per stage (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report["timing"]["stages"].items()),
        "",
    ]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
