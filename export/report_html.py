"""report.html: the report as one self-contained page (inline SVG charts and CSS, no script or font fetched).

Sections: size (a breakdown chart of this bundle against the optimum/ORT int8 baseline, and the ratios), export
parity and fidelity, accuracy when the export was evaluated, the Pareto curves of a sweep when one is given
(`--sweep`), and the stage timings. A few lines of inline script mark the page with how many charts the browser
laid out (`data-charts-rendered` on <body>), which is what the headless-browser test reads.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from . import charts
from .bundle import published_name
from .tasks import TASKS

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; } td, th { padding: 0.25rem 0.75rem; text-align: left; }
tr:nth-child(even) { background: #f5f5f5; } .fail { color: #b00; font-weight: bold; } .pass { color: #070; }
figure { margin: 0.5rem 0; } figure svg { max-width: 100%; height: auto; } .note { color: #666; }
"""
# Counts the charts the browser actually laid out (a non-empty box), for the headless-browser test.
SCRIPT = """
window.addEventListener("load", () => {
  const drawn = [...document.querySelectorAll("figure.chart svg")].filter(s => s.getBBox().width > 0);
  document.body.dataset.chartsRendered = String(drawn.length);
});
"""


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB ({n:,} B)"


def _figure(name: str, figure, caption: str) -> str:
    return f'<figure class="chart" id="{name}">{charts.svg(figure)}<figcaption>{escape(caption)}</figcaption></figure>'


def shipped_model_files(report: dict[str, Any]) -> list[str]:
    """model.ort, and weights.ort when the encoder's decode runs once at load (targets/load_time_decode.py)."""
    bundle = report["bundle"]
    return [bundle["model_file"], *([bundle["weights_file"]] if bundle.get("weights_file") else [])]


def gives_one_label(distilled: dict[str, Any] | None) -> bool:
    """Does the distilled classifier give one label to every held-out passage where the original gives more? (Its
    held-out loss can fall while that happens: docs/distillation.md.)"""
    if distilled is None or distilled["held_out_labels_original"] is None:  # an embedder, a regression head
        return False
    return distilled["held_out_labels_after"] == 1 < distilled["held_out_labels_original"]


def distill_rows(distilled: dict[str, Any] | None) -> list[tuple[str, str]]:
    if distilled is None:
        return []
    held_out = distilled["held_out_passages"]
    trained = distilled["passages"] - held_out
    losses = f"{distilled['held_out_loss_before']:.3g} → {distilled['held_out_loss_after']:.3g}"  # digits at any scale
    before, after = distilled["held_out_agreement_before"], distilled["held_out_agreement_after"]
    answers = (f", top-1 agreement with the original {before:.3f} → {after:.3f}"
               if before is not None and after is not None else "")  # fmt: skip
    if gives_one_label(distilled):
        original = distilled["held_out_labels_original"]
        answers += f", one label for every held-out passage (the original gives {original})"
    return [("distillation", f"{distilled['steps']} steps on {trained:,} passages of {distilled['text']}, "
             f"{held_out:,} more held out ({distilled['device']}); held-out loss {losses}{answers}")]  # fmt: skip


def vocab_rows(pruning: dict[str, Any] | None) -> list[tuple[str, str]]:
    if pruning is None:
        return []
    rest = pruning.get("rest_ratio")
    others = f", the others as codes at {rest:g}x (tokenizer unchanged)" if rest else ""
    common = (f"{pruning['kept_as_common']:,} more of its {pruning['common']:,} most common, " if pruning["common"]
              else "")  # fmt: skip
    rows = [("vocabulary", f"{pruning['rows_kept']:,} of {pruning['rows_original']:,} rows kept{others}  "
             f"({pruning['kept_from_text']:,} used by {pruning['text']}, {common}"
             f"{pruning['kept_as_fallback']:,} fallback)")]
    for name, seen in pruning["coverage"].items():
        if seen:
            unk = f"words with an [UNK] {seen['unk_rate_original']:.2%} → {seen['unk_rate_pruned']:.2%}"
            rows.append((f"vocabulary: {name.replace('_', '-')} text", f"{seen['texts_unchanged']:.1%} of "
                         f"{seen['texts']:,} texts tokenized as before, {seen['words_split_differently']:.2%} of "
                         f"words split differently, {unk}"))  # fmt: skip
    return rows


def size_section(report: dict[str, Any]) -> str:
    size = report["size"]
    bars = {"this bundle": size["breakdown"]["bundle"], "optimum/ORT int8": size["breakdown"]["baseline_int8"]}
    rows = [
        ("model file", f"{_mb(size['model_bytes'])} ({escape(' + '.join(shipped_model_files(report)))})"),
        ("optimum/ORT int8 baseline, same format", _mb(size["baseline_int8_model_bytes"])),
        ("model vs baseline", f"{size['model_ratio_vs_baseline']:.3f}x"),
        ("token embedding as stored", f"{_mb(size['embedding_bytes'])}, {escape(report['embedding']['method'])}"),
        ("embedding ratio vs fp32 / fp16 / int8 table", f"{size['embedding_ratio_vs_fp32']:.2f}x / "
         f"{size['embedding_ratio_vs_fp16']:.2f}x / {size['embedding_ratio_vs_int8']:.2f}x"),
        ("encoder layers as stored", f"{_mb(size['encoder_bytes'])}, {escape(report['encoder']['method'])}"),
        ("encoder ratio vs fp32 / the baseline's int8", f"{size['encoder_ratio_vs_fp32']:.2f}x / "
         f"{size['encoder_ratio_vs_int8']:.2f}x"),
    ]  # fmt: skip
    weights = (" (with weights.ort, run once at load: the encoder's 4-bit decode, or DeBERTa's position projections)"
               if len(shipped_model_files(report)) > 1 else "")  # fmt: skip
    caption = (f"Bytes of the shipped model file{weights}: the token embedding and the encoder's layers as stored "
               "(counted in "
               "the ONNX graph before conversion), and everything else (position and type tables, norms, head, "
               "graph and format).")  # fmt: skip
    return f"<h2>Size</h2>{_figure('size-breakdown', charts.size_breakdown_figure(bars), caption)}{_table(rows)}"


def training_section(report: dict[str, Any]) -> str:
    """--vocab's rows and coverage and --distill's run, where the export had them (report.md's rows, escaped)."""
    rows = [(escape(name), escape(value)) for name, value in
            [*vocab_rows(report.get("vocab")), *distill_rows(report.get("distill"))]]  # fmt: skip
    return "<h2>Vocabulary and distillation</h2>" + _table(rows) if rows else ""


def parity_section(report: dict[str, Any]) -> str:
    parity, fidelity = report["parity"], report["fidelity"]
    verdict = ('<span class="pass">pass</span>' if parity["passed"]
               else '<span class="fail">FAIL: ' + escape("; ".join(parity["failures"])) + "</span>")  # fmt: skip
    top1 = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731 (a formatter used twice below)
    measure = measure_name(parity)
    one_output = measure != "min cosine"
    rows = [
        ("export parity", "vs PyTorch carrying the same embedding, on the probes", verdict),
        (
            "",
            measure,
            f"{parity['min_cosine']:.5f} (needs {parity['tolerance']['min_cosine']}: the optimum/ORT "
            f"int8 baseline's {parity['tolerance']['baseline_min_cosine']:.5f} on the same probes, less "
            f"{parity['tolerance']['min_cosine_margin']:g}, rounded down)",
        ),
        ("", "max abs diff", f"{parity['max_abs_diff']:.2e}"),
        ("", "top-1 agreement", top1(parity["top1_agreement"]) + undecided_note(parity)),
        ("", "fp32 graph vs PyTorch, max abs diff", f"{parity['export_max_abs_diff']:.2e}"),
        ("fidelity", "vs the original fp32 model (reported, not enforced)", ""),
        ("", measure, f"{fidelity['min_cosine']:.4f}") if one_output
        else ("", "min / mean cosine", f"{fidelity['min_cosine']:.4f} / {fidelity['mean_cosine']:.4f}"),
        ("", "top-1 agreement", top1(fidelity["top1_agreement"])),
    ]
    return "<h2>Parity</h2>" + _table(rows)


def measure_name(parity: dict[str, Any]) -> str:
    """What parity's min_cosine measures, in words: the probes' cosine, or a one-output model's score concordance."""
    return "score concordance" if parity.get("measure") == "concordance" else "min cosine"


def undecided_note(parity: dict[str, Any]) -> str:
    """Probes whose fp32 top two classes tie are left out of top-1 agreement (stages.py); said when there are any."""
    undecided = parity.get("undecided_probes", 0)
    return f" ({undecided} undecided probe(s) left out)" if undecided and parity["top1_agreement"] is not None else ""


def accuracy_section(accuracy: dict[str, Any] | None, task: str) -> str:
    if accuracy is None:
        return '<h2>Accuracy</h2><p class="note">Not evaluated (export with --evaluate GLUE_DIR).</p>'
    baseline = accuracy["baseline_int8"]
    row = (f"{accuracy['original']:.4f}", f"{baseline:.4f}", f"{accuracy['bundle']:.4f}",
           f"{accuracy['bundle'] - baseline:+.4f}")  # fmt: skip
    one = "pair" if TASKS[task].pairs else "text"
    title = f"{accuracy['dataset']} {accuracy['metric']}, {accuracy['examples']} examples, one {one} per call"
    header = ("original fp32", "optimum/ORT int8", "this bundle", "bundle − int8")
    return f"<h2>Accuracy</h2><p>{escape(title)}</p>" + _table([row], header)


def pareto_section(report: dict[str, Any], sweep: list[dict] | None) -> str:
    if not sweep:
        return ""
    accuracy = report.get("accuracy")
    mark = None
    if accuracy is not None:
        mark = (published_name(report["checkpoint"]), f"{accuracy['dataset']} {accuracy['metric']}",
                report["size"]["embedding_ratio_vs_fp32"], accuracy["bundle"])  # fmt: skip
    caption = ("Score against embedding compression ratio for each method of a sweep (benchmarks/sweep.py, --sweep): "
               "another run, perhaps on another machine, than this bundle's"
               + (", whose star is this run's own score." if any(charts.starred(r, mark) for r in sweep) else "."))
    return "<h2>Methods compared</h2>" + _figure("pareto", charts.pareto_figure(sweep, mark), caption)


def earlier_picks(search: dict[str, Any]) -> str:
    """Said when the confirmation part failed earlier picks: it has then shaped the choice it confirms."""
    failed = search.get("confirmations", 1) - 1
    return f"; it failed {failed} earlier pick{'s' * (failed > 1)}, so it is no longer unseen" if failed else ""


def search_section(search: dict[str, Any] | None) -> str:
    if not search:
        return ""
    confirmation = search["confirmation"]
    chosen = ("the chosen bundle; confirmed" if search["within_budget"] else
              "the closest, written as none kept within the budget (--no-strict); scored")  # fmt: skip
    caption = (f"Every candidate measured on the search part ({search['split']['search']} examples), the budget of "
               f"{search['max_drop']:g} points and {chosen} on the other "
               f"{search['split']['confirm']}: {confirmation['drop']:+.2f} points{earlier_picks(search)}.")  # fmt: skip
    figure = charts.search_figure(search["candidates"], search["max_drop"], search["chosen"], search["objective"],
                                  search["latency_tokens"])  # fmt: skip
    rows = [(escape(c["key"]), escape(c["status"]), f"{c['worst_drop']:+.2f}" if "worst_drop" in c else "—",
             _mb(c["model_bytes"]) if "model_bytes" in c else "—",
             f"{c['p50_ms']:.1f}" if "p50_ms" in c else "—") for c in search["candidates"]]  # fmt: skip
    header = ("candidate", "status", "drop (pt, worst seed)", "model file",
              f"p50 ms, {search['latency_tokens']} tokens, 1 thread")  # fmt: skip
    return "<h2>Search</h2>" + _figure("search", figure, caption) + _table(rows, header)


def render(report: dict[str, Any], sweep: list[dict] | None = None) -> str:
    embedding = report["embedding"]
    subtitle = (f"preset {report['preset']}, task {report['task']}, target {report['target']}, embedding "
                f"{embedding['method']} ({report['size']['embedding_ratio_vs_fp32']:.1f}x), "
                f"encoder {report['encoder']['method']}")  # fmt: skip
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in report["timing"]["stages"].items())
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Export report: {escape(report['checkpoint'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Export report: {escape(report['checkpoint'])}</h1><p>{escape(subtitle)}</p>",
        search_section(report.get("search")), size_section(report), parity_section(report),
        accuracy_section(report.get("accuracy"), report["task"]), training_section(report),
        pareto_section(report, sweep),
        f"<h2>Timings</h2><p>{escape(timings)}; export {report['timing']['export_seconds']:.1f} s</p>",
        f"<script>{SCRIPT}</script></body></html>", "",
    ])  # fmt: skip


def write_html(folder: Path, report: dict[str, Any], sweep_csv: Path | None = None) -> None:
    sweep = charts.read_sweep(sweep_csv) if sweep_csv else None
    (folder / "report.html").write_text(render(report, sweep), encoding="utf-8")
