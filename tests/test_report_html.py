"""report.html: self-contained, laid out by a real browser (headless Chromium) with its charts drawn."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_cli_errors import assert_refused, run_cli

from export.report_html import render, write_html

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "benchmarks/results/sweep/sweep.csv"
# Debian's chromium, as the environment notes run it: no sandbox as root, and no background connections (the
# network is closed; without these flags Chromium retries Google's hosts at every start).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium(page: Path, profile: Path, *action: str) -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout


def rendered_dom(page: Path, tmp_path: Path) -> str:
    # the page's script sets data-charts-rendered once the browser has laid the charts out
    return chromium(page, tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom")


def test_evaluated_bundle_report_renders_with_charts_and_tables(minilm_bundle, tmp_path):
    report = minilm_bundle[1]
    write_html(tmp_path, report, SWEEP)  # the bundle's own report, with the checked-in sweep drawn in
    page = tmp_path / "report.html"
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched: self-contained
    dom = rendered_dom(page, tmp_path)
    assert 'data-charts-rendered="2"' in dom  # the size breakdown and the Pareto plot, laid out
    assert 'id="size-breakdown"' in dom and 'id="pareto"' in dom
    accuracy, size = report["accuracy"], report["size"]
    for figure in (f"{accuracy['bundle']:.4f}", f"{accuracy['baseline_int8']:.4f}", f"{accuracy['original']:.4f}",
                   f"{report['parity']['min_cosine']:.5f}", f"{size['model_bytes']:,} B"):  # fmt: skip
        assert figure in dom, figure
    assert "this bundle" in dom.split('id="pareto"')[1]  # the bundle is marked on its own metric's curves
    screenshot = tmp_path / "page.png"
    chromium(page, tmp_path / "profile-shot", "--window-size=1100,2400", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 50_000  # a blank page is a few kB


def test_every_bundle_carries_its_report_page(tiny_bundle, tmp_path):
    folder, report = tiny_bundle
    page = folder / "report.html"
    assert "report.html" not in json.loads((folder / "bundle.json").read_text())["files"]  # like the other reports
    dom = rendered_dom(page, tmp_path)
    assert 'data-charts-rendered="1"' in dom and "Not evaluated" in dom  # no sweep, no accuracy: size chart only
    assert render(report) == render(report)  # the same report gives the same page (svg ids are salted, no date)


def test_sweep_that_is_not_a_sweep_is_refused(capsys, tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    # a short row: its model, method and metric were None, and the charts failed after the whole export
    (tmp_path / "short.csv").write_text("achieved_ratio,bundle,baseline_int8,model,method,metric\n2,0.5,0.6\n")
    for sweep, expected in ((tmp_path / "missing.csv", "not found"), (tmp_path / "other.csv", "not a sweep CSV"),
                            (tmp_path / "short.csv", "a row has no model")):  # fmt: skip
        code, err = run_cli(capsys, "bert", "--sweep", str(sweep), "--out", str(tmp_path / "b"))
        assert_refused(code, err, expected)
    assert not (tmp_path / "b").exists()


def test_the_bundle_is_starred_on_its_own_models_panel_only():
    """Two sweep models scored on one metric (the embedder and the cross-encoder on STS-B): the star goes on the
    panel of the bundle's checkpoint, not on every panel of the metric."""
    from export.charts import pareto_figure

    rows = [{"model": name, "checkpoint": checkpoint, "method": "svd", "ratio": "8", "seed": "0", "encoder": "int8",
             "vocab": "", "achieved_ratio": 8.0, "metric": "stsb-dev spearman", "bundle": 0.8, "baseline_int8": 0.86}
            for name, checkpoint in (("embedder", "sentence-transformers/all-MiniLM-L6-v2"),
                                     ("cross", "minilm-l6-stsb-cross"))]  # fmt: skip
    figure = pareto_figure(rows, ("minilm-l6-stsb-cross", "stsb-dev spearman", 25.0, 0.85))
    starred = {axis.get_title() for axis in figure.axes if "this bundle" in axis.get_legend_handles_labels()[1]}
    assert starred == {"cross"}



def test_the_search_chart_draws_each_candidate_under_its_own_status():
    """A pick within budget on the search part and over on the confirmation part was drawn as "over budget" left of
    the budget line, and an empty group still had its legend entry."""
    from export.charts import search_figure

    def candidate(key: str, status: str, drop: float) -> dict:
        return {"key": key, "status": status, "worst_drop": drop, "model_bytes": 5e6, "p50_ms": 1.0}

    candidates = [candidate("a", "over budget on the confirmation part", 0.2), candidate("b", "within budget", 0.4),
                  candidate("c", "skipped: no such ratio", 0.1), {"key": "d", "status": "not tried"}]  # fmt: skip
    labels = search_figure(candidates, 0.5, "b").axes[0].get_legend_handles_labels()[1]
    assert labels == ["within budget", "over budget on the confirmation part", "a seed failed to export", "chosen",
                      "budget 0.5 pt"]  # fmt: skip


def test_reports_show_distillation_and_vocabulary_and_take_user_strings_literally(tiny_bundle, tmp_path):
    """--distill's run was in no report and --vocab's rows not in report.html; the terminal summary read a path's
    "[...]" as rich markup (dropping it), and a "|" in a value ended report.md's table cell."""
    import io

    from rich.console import Console

    from export.report import print_summary, write_reports

    report = json.loads(json.dumps(tiny_bundle[1]))  # a copy
    report["distill"] = {"steps": 20, "passages": 3689, "held_out_passages": 64, "text": "wiki|text", "device": "cpu",
                         "held_out_loss_before": 1.93e-05, "held_out_loss_after": 2.09e-05,
                         "held_out_agreement_before": 0.890625, "held_out_agreement_after": 0.5,
                         "held_out_labels_original": 2, "held_out_labels_before": 2,
                         "held_out_labels_after": 1}  # fmt: skip
    report["vocab"] = {"rows_kept": 10, "rows_original": 40, "rest_ratio": None, "kept_from_text": 6,
                       "text": "my<domain>.txt", "kept_as_common": 0, "common": 0, "kept_as_fallback": 4,
                       "coverage": {}}  # fmt: skip
    write_reports(tmp_path, report)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    # the passages trained on and those held out; a small loss's digits (a rise read "0.0000 → 0.0000")
    row = ("| distillation | 20 steps on 3,625 passages of wiki\\|text, 64 more held out (cpu); held-out loss "
           "1.93e-05 → 2.09e-05, top-1 agreement with the original 0.891 → 0.500, one label for every held-out "
           "passage (the original gives 2) |")  # fmt: skip
    assert row in markdown, markdown
    # no raw HTML from a path in report.md; no "0 more of its 0 most common" without --vocab-common
    assert "(6 used by my&lt;domain>.txt, 4 fallback)" in markdown
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Vocabulary and distillation" in html and "my&lt;domain&gt;.txt" in html and "held-out loss 1.93e-05" in html
    console = Console(file=io.StringIO(), width=300, color_system=None)
    print_summary(console, report, Path("/tmp/out[red]x"))
    printed = console.file.getvalue()
    assert "bundle /tmp/out[red]x" in printed and "wiki|text" in printed
    from export.report import summary_rows

    report["operators"] = {**report["operators"], "inside": True, "outside": []}
    rows = dict(summary_rows(report))  # what the op-set check judges, said where it passes
    assert rows["legacy mobile op set"] == "inside (operators; its data types are not compared)"


def test_chart_labels_are_drawn_as_written_never_as_math():
    """A sweep's columns and a search's keys are the user's strings: a "$" in one was parsed as matplotlib math
    text, so an unbalanced one failed the export after every stage had run, and "$5 ... $10" came out in italics."""
    from export.charts import pareto_figure, search_figure, svg

    rows = [{"model": "costs $5 or $10", "checkpoint": "c", "method": "svd", "ratio": "8", "seed": "0",
             "encoder": "int8", "vocab": "data/$x^$.txt", "achieved_ratio": 8.0, "metric": "acc", "bundle": 0.8,
             "baseline_int8": 0.86}]
    rows = [rows[0], {**rows[0], "ratio": "80", "achieved_ratio": 80.0}]  # a log axis with ticks
    drawn = svg(pareto_figure(rows))
    assert "costs $5 or $10" in drawn and "svd, vocab data/$x^$.txt" in drawn
    # the log axis's ticks are math text of matplotlib's own, drawn as such (10 with a superscript), not as markup
    texts = re.findall(r"<text[^>]*>(.*?)</text>", drawn, flags=re.S)
    assert texts and not [t for t in texts if "mathdefault" in t]
    candidate = {"key": "a_$b", "status": "within budget", "worst_drop": 0.1, "model_bytes": 5e6, "p50_ms": 1.0}
    assert "a_$b" in svg(search_figure([candidate], 0.5, "a_$b"))


def test_json_files_hold_only_json_numbers(tiny_bundle, tmp_path):
    """RFC 8259 has no NaN or Infinity and both runtimes refuse them (runtime_py's strict_json, the Java Json):
    report.json writes a figure that is not a number (a constant output's Spearman, a diverged loss) as null, and
    golden.json is refused rather than written unreadable (a kept --no-strict bundle could never self-check)."""
    import math

    import numpy as np

    from export.bundle import write_golden
    from export.errors import ParityError
    from export.report import write_reports
    from runtime_py.manifest import strict_json

    report = json.loads(json.dumps(tiny_bundle[1]))  # a copy
    report["distill"] = {"steps": 2, "passages": 40, "held_out_passages": 10, "text": "t", "device": "cpu",
                         "held_out_loss_before": 0.5, "held_out_loss_after": math.nan, "first_loss": math.inf,
                         "held_out_agreement_before": None, "held_out_agreement_after": None,
                         "held_out_labels_original": None, "held_out_labels_before": None,
                         "held_out_labels_after": None}  # fmt: skip
    write_reports(tmp_path, report)
    written = strict_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert written["distill"]["held_out_loss_after"] is None and written["distill"]["first_loss"] is None
    assert "held-out loss 0.5 → nan" in (tmp_path / "report.md").read_text(encoding="utf-8")
    probes = json.loads((tiny_bundle[0] / "golden.json").read_text(encoding="utf-8"))["probes"]
    outputs = np.array([p["bundle"] for p in probes], dtype=np.float32)
    broken = outputs.copy()
    broken[3, 1] = np.nan
    with pytest.raises(ParityError, match="bundle outputs on the golden probes are not all finite"):
        write_golden(tmp_path, None, outputs, outputs, broken)
    assert not (tmp_path / "golden.json").exists()


def test_a_pair_models_accuracy_is_scored_one_pair_per_call():
    from export.report_html import accuracy_section

    accuracy = {"dataset": "stsb-dev", "metric": "spearman", "examples": 1500, "original": 0.86,
                "baseline_int8": 0.85, "bundle": 0.855}  # fmt: skip
    assert "1500 examples, one pair per call" in accuracy_section(accuracy, "text-pair-classification")
    assert "1500 examples, one text per call" in accuracy_section(accuracy, "feature-extraction")


def test_the_sweep_caption_promises_a_star_only_where_one_is_drawn_and_the_parity_table_names_undecided_probes(
    tiny_bundle,
):
    from export.bundle import published_name
    from export.report_html import pareto_section, parity_section

    report = json.loads(json.dumps(tiny_bundle[1]))  # a copy
    report["accuracy"] = {"dataset": "d", "metric": "acc", "bundle": 0.8, "baseline_int8": 0.8, "original": 0.8,
                          "examples": 10}  # fmt: skip
    row = {"model": "m", "checkpoint": published_name(report["checkpoint"]), "method": "svd", "ratio": "8",
           "seed": "0", "encoder": "int8", "vocab": "", "achieved_ratio": 8.0, "metric": "d acc", "bundle": 0.8,
           "baseline_int8": 0.86}  # fmt: skip
    assert "whose star" in pareto_section(report, [row])
    assert "whose star" not in pareto_section(report, [{**row, "metric": "other"}])  # no panel of its metric
    assert "whose star" not in pareto_section(report, [{**row, "checkpoint": "another"}])
    report["parity"].update(top1_agreement=1.0, undecided_probes=2)
    assert "1.000 (2 undecided probe(s) left out)" in parity_section(report)
