"""--max-drop / export.search on tiny models: the split, the choice, an unmeetable budget, resuming.

A tiny random classifier predicts one class for every text, so every candidate's drop is 0 on it: which candidates
are over budget is set here by results stored in the search's work folder (the same file an interrupted search
resumes from), and everything else runs for real."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SST2_DEV, SST2_DIR, STSB_DIR
from test_cli_errors import assert_refused, run_cli

import export
from export.api import export_config
from export.budget import Candidate, NothingWithinBudget, SearchSettings, default_space, fingerprint
from export.budget.run import (
    FAILED_CONFIRMATION,
    LATENCY_TIE,
    OVER_BUDGET,
    Measured,
    fastest,
    latency_tokens,
    reason_to_skip,
)
from export.budget.split import split_labelled_set, split_rows
from export.budget.store import RESULTS, ResultStore
from export.bundle import tool_versions
from export.config import VocabConfig
from export.datasets import read_examples

# smallest first, as the search visits them: an int8 table with an int4, then an int8 encoder
SPACE = [Candidate(export.Int8(), export.Int4Encoder()), Candidate(export.Int8(), export.Int8Encoder())]


def test_the_split_is_fixed_disjoint_whole_and_stratified():
    targets = read_examples(SST2_DIR).targets
    search, confirm = split_rows(targets, stratified=True)
    assert (search, confirm) == split_rows(targets, stratified=True)  # the same on every run
    assert not set(search) & set(confirm) and sorted(search + confirm) == list(range(len(targets)))
    for label in ("0", "1"):  # each class halved
        assert abs(sum(targets[i] == label for i in search) - sum(targets[i] == label for i in confirm)) <= 1


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"space": ["lighttoken"]}, "space must be a non-empty list of export.budget.Candidate"),
        ({"space": 5}, "space must be a non-empty list of export.budget.Candidate"),  # was a TypeError traceback
        ({"space": []}, "space must be a non-empty list of export.budget.Candidate"),  # ran the default space
        ({"space": (c for c in SPACE)}, "space must be a non-empty list"),  # was used up by the check
        ({"space": [SPACE[0], SPACE[1], SPACE[0]]}, "space names candidate int8 encoder:int4 twice"),
        ({"model": "/nonexistent/model"}, "checkpoint folder not found"),
        ({"seeds": 1.5}, "search seeds must be a whole number (got 1.5)"),
    ],
    ids=["space-of-strings", "space-a-number", "space-empty", "space-a-generator", "space-twice", "model-missing",
         "seeds-not-whole"],
)
def test_a_search_refused_before_it_starts_leaves_no_work_folder(tmp_path, tiny_checkpoint, settings, expected):
    """The work folder (.OUT.search, kept so an interrupted search resumes) is made only once the search can run:
    these were refused after it was written, and it stayed."""
    arguments = {"model": str(tiny_checkpoint("bert-classifier")), "evaluate": SST2_DIR, "max_drop": 1.0,
                 "out": tmp_path / "bundle", "progress": False, **settings}  # fmt: skip
    with pytest.raises(export.UserInputError, match=re.escape(expected)):
        export.search("bert", **arguments)
    assert list(tmp_path.iterdir()) == []


def test_a_search_of_edited_data_does_not_reuse_the_stored_results(tmp_path):
    """Resuming reads results back only for the same inputs: the fingerprint holds the files' contents."""
    data = tmp_path / "dev.tsv"
    data.write_bytes(SST2_DEV.read_bytes())
    base = export_config("bert", evaluate=data, out=tmp_path / "bundle")
    before = fingerprint(base, SearchSettings(max_drop=1.0))
    assert fingerprint(base, SearchSettings(max_drop=2.0)) == before  # the budget is not in it
    data.write_bytes(SST2_DEV.read_bytes() + b"a new sentence\t1\n")
    assert fingerprint(base, SearchSettings(max_drop=1.0))["contents"]["evaluate"] != before["contents"]["evaluate"]


def test_a_search_resumed_with_its_paths_spelt_another_way_is_the_same_search(tmp_path, monkeypatch):
    """A relative --evaluate on one run and an absolute one on the next wiped the stored results."""
    monkeypatch.chdir(SST2_DIR.parent)
    relative = export_config("bert", evaluate=SST2_DIR.name, out=tmp_path / "bundle")
    absolute = export_config("bert", evaluate=SST2_DIR.resolve(), out=tmp_path / "bundle")
    assert fingerprint(relative, SearchSettings(max_drop=1.0)) == fingerprint(absolute, SearchSettings(max_drop=1.0))


def test_a_search_fingerprint_holds_the_versions_that_build_and_score_the_bundles(tmp_path):
    """Results measured with another onnxruntime (or torch, or this tool's code: a development install keeps its
    version from one commit to the next) are not reused."""
    fingerprinted = fingerprint(export_config("bert", out=tmp_path / "bundle"), SearchSettings(max_drop=1.0))
    assert fingerprinted["tools"] == tool_versions()
    assert {"bert-edge", "onnxruntime", "torch", "transformers"} <= set(fingerprinted["tools"])
    assert re.fullmatch("[0-9a-f]{64}", fingerprinted["code"])


def test_the_split_files_read_back_in_the_original_layout(tmp_path):
    for data, pairs in ((SST2_DIR, False), (STSB_DIR, True)):
        full = read_examples(data)
        split = split_labelled_set(data, stratified=not full.layout.scored).write(tmp_path / data.name)
        parts = [read_examples(split.search), read_examples(split.confirm)]
        assert all(p.layout == full.layout and p.pairs == pairs for p in parts)
        assert sorted(parts[0].texts + parts[1].texts) == sorted(full.texts)
        assert [full.targets[i] for i in split.search_rows] == parts[0].targets


def stored_over_budget(out: Path, checkpoint: Path, drops: dict[str, float],
                       timed: dict[str, tuple[float, int]] | None = None, seed: int = 0, **flags) -> None:  # fmt: skip
    """Record results for candidates as a search of `checkpoint` on SST-2 (with export_config's `flags`) would have
    left them; `timed`: the (p50 ms, model bytes) of some of them."""
    base = export_config("bert", model=str(checkpoint), evaluate=SST2_DIR, out=out, **flags)
    store = ResultStore(out.parent / f".{out.name}.search", fingerprint(base, SearchSettings(max_drop=1.0)))
    for key, drop in drops.items():
        p50, size = (timed or {}).get(key, (1.0, 1))
        store.put({"key": key, "seed": seed, "score": 0.5, "baseline": 0.5, "drop": drop, "model_bytes": size,
                   "parity_passed": True, "export_seconds": 1.0, "p50_ms": p50})  # fmt: skip


def test_the_chosen_candidate_is_the_smallest_within_budget_among_those_tried(tmp_path, tiny_checkpoint):
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    stored_over_budget(out, checkpoint, {SPACE[0].key: 3.0})
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=SPACE, out=out,
                           progress=False)  # fmt: skip
    search = result.report["search"]
    statuses = {c["key"]: c["status"] for c in search["candidates"]}
    assert statuses == {SPACE[0].key: "over budget", SPACE[1].key: "within budget"}
    assert search["chosen"] == SPACE[1].key and search["confirmation"]["drop"] <= 1.0 and search["within_budget"]
    # the user's data (it named the confirmation half's file in the removed work folder)
    assert result.report["config"]["evaluate"] == str(SST2_DIR)
    assert result.report["accuracy"]["dataset"].endswith("-confirm")
    assert search["candidates"][1]["p50_ms"] > 0  # exported here, and timed
    assert json.loads((out / "bundle.json").read_text())["encoder"]["method"] == "int8"
    assert "<h2>Search</h2>" in (out / "report.html").read_text()
    assert not (tmp_path / ".bundle.search").exists()  # the work folder goes once the bundle is published


def test_the_size_objective_visits_the_smallest_first_whatever_the_order_given(tmp_path, tiny_checkpoint):
    """Both within budget, given largest first: the int4 encoder (smaller by its estimate) is visited first and
    chosen, the int8 one never looked at (the size objective stops at its first candidate within budget)."""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    stored_over_budget(out, checkpoint, {SPACE[0].key: 0.0, SPACE[1].key: 0.0})
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=SPACE[::-1],
                           out=out, progress=False)  # fmt: skip
    search = result.report["search"]
    assert [c["key"] for c in search["candidates"]] == [SPACE[0].key, SPACE[1].key]  # in the order visited
    assert search["chosen"] == SPACE[0].key and search["candidates"][1]["status"] == "not tried"


def test_a_stochastic_candidate_counts_its_worst_seed(tmp_path, tiny_checkpoint):
    """A lighttoken table is a random draw: within budget on seed 0 and 3 points over on seed 1, it is over budget
    (worst 3.0) and the next candidate is chosen. (Stored results: the tiny table cannot take lighttoken.)"""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    drawn = Candidate(export.LightToken(ratio=4), export.Int8Encoder())
    stored_over_budget(out, checkpoint, {drawn.key: 0.0, SPACE[1].key: 0.0})
    stored_over_budget(out, checkpoint, {drawn.key: 3.0}, seed=1)
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=[drawn, SPACE[1]],
                           out=out, seeds=2, progress=False)  # fmt: skip
    search = result.report["search"]
    first = search["candidates"][0]
    assert first["key"] == drawn.key and first["status"] == "over budget" and first["worst_drop"] == 3.0
    assert [row["seed"] for row in first["seeds"]] == [0, 1] and search["chosen"] == SPACE[1].key


def test_the_rest_of_a_vocabulary_is_a_random_draw_whatever_the_domain_rows_method(tmp_path, tiny_checkpoint):
    """With --vocab-rest the rows outside the domain are lighttoken codes, fitted from the seed, even under an int8
    table: the candidate was measured on seed 0 alone (within budget) and chosen, its seed 1 (3 points over) unseen."""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    rest = VocabConfig(SST2_DIR / "train.tsv", rest=4.0)
    domain = Candidate(export.Int8(), export.Int8Encoder(), vocab=True)
    stored_over_budget(out, checkpoint, {domain.key: 0.0, SPACE[1].key: 0.0}, vocab=rest)
    stored_over_budget(out, checkpoint, {domain.key: 3.0}, seed=1, vocab=rest)
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=[domain, SPACE[1]],
                           vocab=rest, out=out, seeds=2, progress=False)  # fmt: skip
    first = result.report["search"]["candidates"][0]
    assert first["key"] == domain.key and first["status"] == "over budget" and first["worst_drop"] == 3.0
    assert result.report["search"]["chosen"] == SPACE[1].key


def test_a_candidate_that_failed_a_seed_is_not_the_closest(tmp_path, tiny_checkpoint):
    """Within budget on seed 0 and an export error on seed 1, a candidate was named the closest (and --no-strict
    exported it again, to fail again): the closest is one measured whole."""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    drawn = Candidate(export.LightToken(ratio=4), export.Int8Encoder())
    stored_over_budget(out, checkpoint, {drawn.key: 0.0, SPACE[1].key: 3.0})
    base = export_config("bert", model=str(checkpoint), evaluate=SST2_DIR, out=out)
    store = ResultStore(tmp_path / ".bundle.search", fingerprint(base, SearchSettings(max_drop=1.0)))
    store.put({"key": drawn.key, "seed": 1, "error": "lighttoken cannot reach ratio 4"})
    with pytest.raises(NothingWithinBudget, match=re.escape(f"(closest on the search part: {SPACE[1].key}, +3.00")):
        export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=[drawn, SPACE[1]],
                      out=out, seeds=2, progress=False)  # fmt: skip


def test_a_result_row_after_one_cut_short_is_read_back(tmp_path):
    """A run killed while writing a row leaves a line without its newline: the next row was appended to it, and
    the two were lost together on the next resume."""
    base = export_config("bert", evaluate=SST2_DIR, out=tmp_path / "bundle")
    key = fingerprint(base, SearchSettings(max_drop=1.0))
    ResultStore(tmp_path / "work", key)
    (tmp_path / "work" / RESULTS).write_text('{"key": "a", "seed": 0, "dr')
    ResultStore(tmp_path / "work", key).put({"key": "b", "seed": 0, "drop": 1.0})
    assert ResultStore(tmp_path / "work", key).get("b", 0) == {"key": "b", "seed": 0, "drop": 1.0}


def test_data_the_model_cannot_score_is_refused_before_any_candidate(tmp_path, tiny_checkpoint):
    """Labels the classifier does not have were each candidate's export error, kept in the work folder and never
    printed: the search ended 'no candidate could be measured within --search-minutes', exit 1."""
    data = tmp_path / "yes-no.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"text number {i}\t{('yes', 'no')[i % 2]}\n" for i in range(60)))
    with pytest.raises(export.UserInputError, match="label") as refused:
        export.search("bert", model=str(tiny_checkpoint("bert-classifier")), evaluate=data, max_drop=1.0,
                      space=SPACE, out=tmp_path / "bundle", progress=False)  # fmt: skip
    assert not isinstance(refused.value, NothingWithinBudget)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yes-no.tsv"]


def test_a_search_whose_every_candidate_fails_to_export_says_why(capsys, tmp_path, tiny_checkpoint):
    """The tiny table (405 rows) cannot take lighttoken at any ratio: every candidate fails alike, which is the
    input's fault (exit 2, the error named), not 'no candidate could be measured within --search-minutes'."""
    checkpoint = tiny_checkpoint("bert-classifier")
    space = [Candidate(export.LightToken(ratio=25), export.Int8Encoder())]
    with pytest.raises(export.UserInputError, match=r"no candidate could be exported: lighttoken@25 encoder:int8: "
                       r".*cannot reach ratio") as refused:  # fmt: skip
        export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=space,
                      out=tmp_path / "bundle", progress=True)  # fmt: skip
    assert not isinstance(refused.value, NothingWithinBudget) and list(tmp_path.iterdir()) == []
    assert "lighttoken@25 encoder:int8: skipped: " in capsys.readouterr().err  # printed as it happens


def test_without_strict_a_search_with_nothing_within_budget_writes_the_closest(tmp_path, tiny_checkpoint):
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    stored_over_budget(out, checkpoint, {SPACE[0].key: 3.0, SPACE[1].key: 2.0})
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=SPACE, out=out,
                           strict=False, progress=False)  # fmt: skip
    search = result.report["search"]
    assert search["chosen"] == SPACE[1].key  # the closest: 2.0 against 3.0
    assert {c["status"] for c in search["candidates"]} == {"over budget"}
    assert json.loads((out / "bundle.json").read_text())["encoder"]["method"] == "int8"
    # said so: report.json, the summary's row and the chart's caption read as a success
    assert search["within_budget"] is False
    assert "none within the budget: the closest, --no-strict" in (out / "report.md").read_text()
    assert "the closest, written as none kept within the budget" in (out / "report.html").read_text()


def test_a_candidate_whose_outputs_are_not_numbers_is_skipped_not_the_search_ended(tmp_path, tiny_checkpoint,
                                                                                    monkeypatch):  # fmt: skip
    """write_golden refuses outputs that are not finite with a ParityError, even not strict: the search took it for
    its own end (exit 1). The candidate is skipped, the next one exported and chosen; the published report is the
    export's own (report.json read back holds null for a figure that is not a number)."""
    from export import pipeline

    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    stored_over_budget(out, checkpoint, {SPACE[1].key: 0.0})  # the int8 encoder: within budget, exported at the end
    real_run = pipeline.run

    def diverged(config, console, cache=None):
        if config.encoder.name == "int4":
            raise export.ParityError("the bundle outputs on the golden probes are not all finite (NaN or infinity)")
        return real_run(config, console, cache)

    monkeypatch.setattr(pipeline, "run", diverged)
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=SPACE, out=out,
                           progress=False)  # fmt: skip
    statuses = {c["key"]: c["status"] for c in result.report["search"]["candidates"]}
    assert statuses[SPACE[0].key].startswith("skipped: the bundle outputs on the golden probes are not all finite")
    assert result.report["search"]["chosen"] == SPACE[1].key


def test_a_seed_whose_score_is_not_a_number_is_the_worst_whatever_its_place():
    """max() over [0.1, nan] is 0.1 and over [nan, 0.1] nan: a candidate with a NaN seed (a constant output's
    Spearman) could count as within budget."""
    row = {"model_bytes": 1, "p50_ms": 1.0, "parity_passed": True}
    for drops in ([0.1, math.nan], [math.nan, 0.1]):
        measured = Measured(SPACE[0], 1, seeds=[{**row, "seed": i, "drop": d} for i, d in enumerate(drops)])
        assert measured.worst_drop == math.inf


def test_the_latency_objective_picks_the_fastest_within_budget_and_skips_a_slower_encoder(tmp_path, tiny_checkpoint):
    """All within budget: the smallest (an int4 encoder, 30 ms) is not the fastest (an int8 encoder, stored at
    0.001 ms so that nothing timed here beats it), and the int4 encoder is then timed at over 1.25x the pick, so
    the candidate left with it is not exported (it is not stored: exporting it would time it and mark it within
    budget). The one left with the int8 encoder is exported and timed for real (another table can be faster)."""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    fast, same_encoder = SPACE[1], Candidate(export.NoCompression(), export.Int8Encoder())
    small_slow, slow_unexported = SPACE[0], Candidate(export.NoCompression(), export.Int4Encoder())
    stored_over_budget(out, checkpoint, {fast.key: 0.0, small_slow.key: 0.0},
                       timed={fast.key: (1e-3, 1000), small_slow.key: (30.0, 500)})  # fmt: skip
    space = [fast, same_encoder, small_slow, slow_unexported]
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=space, out=out,
                           objective="latency", progress=False)  # fmt: skip
    search = result.report["search"]
    candidates = {c["key"]: c for c in search["candidates"]}
    assert search["chosen"] == fast.key and candidates[small_slow.key]["status"] == "within budget"
    assert candidates[same_encoder.key]["p50_ms"] > 1e-3  # exported, timed, slower than the stored pick
    assert candidates[slow_unexported.key]["status"] == \
        f"not needed: its encoder timed 30.0 ms, over 1.25x {fast.key}'s 0.0 ms"
    assert "p50 ms, 128 tokens, 1 thread" in (out / "report.html").read_text() and search["latency_tokens"] == 128



def test_a_checkpoint_that_reads_fewer_tokens_is_timed_at_its_own_length(tmp_path):
    """A tiny embedder of 64 positions under the bert preset's 256: its candidates are timed at 64 tokens, and
    report.json and report.html say 64 (the length comes from the confirmed export's report)."""
    from test_tiny_exports import _tiny_bert_reading

    checkpoint = _tiny_bert_reading(tmp_path / "model", 64)
    out = tmp_path / "bundle"
    result = export.search("bert", model=str(checkpoint), evaluate=STSB_DIR, max_drop=100.0, out=out,
                           space=[Candidate(export.Int8(), export.Int8Encoder())], objective="latency", seeds=1,
                           progress=False)  # fmt: skip
    assert result.report["search"]["latency_tokens"] == 64 == result.report["config"]["max_length"]
    assert "p50 ms, 64 tokens, 1 thread" in (out / "report.html").read_text()

def test_the_latency_pick_is_the_fastest_of_all_within_budget_whatever_their_order(tmp_path, tiny_checkpoint):
    """Visited by estimated size: a (10.0 ms, 5 MB), c (10.9 ms, 3 MB: tied with a), b (9.5 ms, 8 MB). Over all
    three the pick is a, within 10% of b's 9.5 ms and smaller. Carried from one candidate to the next, the pick went
    a → c → b: c's tie with a was forgotten once b came, and the largest won."""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    # estimated 0.7, 1 and 4 bytes a table value: visited in that order
    a, c, b = (Candidate(export.Int4(ratio=5.6), export.Int8Encoder()), Candidate(export.Int8(), export.Int8Encoder()),
               Candidate(export.NoCompression(), export.FullPrecision()))  # fmt: skip
    stored_over_budget(out, checkpoint, {a.key: 0.0, c.key: 0.0, b.key: 0.0},
                       timed={a.key: (10.0, 5_000_000), c.key: (10.9, 3_000_000), b.key: (9.5, 8_000_000)})  # fmt: skip
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=100.0, space=[b, c, a],
                           out=out, objective="latency", progress=False)  # fmt: skip
    search = result.report["search"]
    assert [candidate["key"] for candidate in search["candidates"]] == [a.key, c.key, b.key]  # the order visited
    assert search["chosen"] == a.key


def test_only_the_search_part_rules_out_the_candidates_that_compress_harder():
    """A pick that fails on the confirmation part is set aside, but no choice may rest on that part: the candidates
    that compress at least as hard are still tried (they were skipped unscored)."""
    row = {"drop": 0.0, "model_bytes": 1, "p50_ms": 1.0, "parity_passed": True}
    failed = Measured(SPACE[1], 1, seeds=[row], status=FAILED_CONFIRMATION)
    harder = Measured(Candidate(export.Int4(), export.Int4AsInt8()), 1)
    assert reason_to_skip(harder, [failed, harder], None) is None
    failed.status = OVER_BUDGET
    assert reason_to_skip(harder, [failed, harder], None).startswith("skipped: compresses at least as hard")


def test_the_report_says_when_the_confirmation_part_failed_earlier_picks():
    """Once it has failed a pick the confirmation part has shaped the choice, and its figure for the chosen one is
    no longer an unseen part's: report.json counts the picks it judged, and the reports say so."""
    from export.budget import _report
    from export.budget.split import Split
    from export.report import _search_rows

    row = {"drop": 0.0, "model_bytes": 1, "p50_ms": 1.0, "parity_passed": True, "seed": 0}
    failed = Measured(SPACE[0], 1, seeds=[row], status=FAILED_CONFIRMATION)
    chosen = Measured(SPACE[1], 2, seeds=[row], status="within budget")
    split = Split(Path("s"), Path("c"), [0, 1], [2, 3])
    confirmation = {"drop": 0.2, "seed": 0, "parity_passed": True}
    searched = _report(SearchSettings(max_drop=1.0), [failed, chosen], chosen, split, confirmation, 128)
    assert searched["confirmations"] == 2 and searched["split"]["seed"] == 0
    assert _search_rows(searched)[-1][1] == "+0.20 pt  (seed 0, 2 examples; it failed 1 earlier pick, so it is no " \
        "longer unseen)"
    first_pick = _report(SearchSettings(max_drop=1.0), [chosen], chosen, split, confirmation, 128)
    assert first_pick["confirmations"] == 1 and _search_rows(first_pick)[-1][1] == "+0.20 pt  (seed 0, 2 examples)"
    # a checkpoint that reads 64 tokens is timed at 64, and said so (the row always said 128)
    short = _report(SearchSettings(max_drop=1.0), [chosen], chosen, split, confirmation, latency_tokens(64))
    assert "p50 1.0 ms at 64 tokens, 1 thread)" in _search_rows(short)[0][1]
    # --no-strict writing the closest, which had itself failed the confirmation part: one pick judged, not two
    assert _report(SearchSettings(max_drop=1.0), [failed], failed, split, confirmation, 128)["confirmations"] == 1


def test_candidates_that_differ_in_any_setting_have_their_own_keys_and_compare_only_within_a_method():
    """The store is keyed by candidate: two int4 block sizes shared one key, so the second read the first's
    results. Ratios compare within one method: lighttoken at 25x is not a harder svd at 8x."""
    assert Candidate(export.Int8(), export.Int4Encoder(block_size=32)).key == "int8 encoder:int4(block_size=32)"
    assert Candidate(export.Int8(), export.Int4Encoder()).key == "int8 encoder:int4"
    assert Candidate(export.Int8(), export.Tucker(share="layer")).key == "int8 encoder:tucker@4(share=layer)"
    int8 = export.Int8Encoder()
    assert not Candidate(export.LightToken(ratio=25), int8).harder_than(Candidate(export.Svd(ratio=8), int8))
    assert not Candidate(export.Svd(ratio=25), int8).harder_than(Candidate(export.LightToken(ratio=25), int8))
    assert Candidate(export.Svd(ratio=25), int8).harder_than(Candidate(export.Svd(ratio=8), int8))
    assert not Candidate(export.Int8(), export.Int4Encoder()).harder_than(Candidate(export.Int8(), export.Int4AsInt8()))


def test_estimated_sizes_order_factorised_encoders_and_an_fp32_model_by_what_they_store():
    """A factorised encoder keeps 1/ratio of its weights at int8; an uncompressed table is int8 beside an int8
    encoder (the int8 pass quantizes it too) and fp32 only beside the fp32 one: the size objective's order (the
    first within budget wins) rests on these."""
    from export.budget.space import estimated_bytes

    table, weights = 30_522 * 384, 10_600_000
    dense_100x = estimated_bytes(Candidate(export.LightToken(ratio=100), export.Int8Encoder()), table, weights, 1.0)
    tucker_25x = estimated_bytes(Candidate(export.LightToken(ratio=25), export.Tucker(ratio=8)), table, weights, 1.0)
    assert tucker_25x < dense_100x  # 3.2 MB against 11.1 MB: 1.3 and 10.6 MB of it encoder
    none, int8 = (estimated_bytes(Candidate(t, export.Int8Encoder()), table, weights, 1.0)
                  for t in (export.NoCompression(), export.Int8()))  # fmt: skip
    assert none == int8 == table + weights
    fp32 = estimated_bytes(Candidate(export.NoCompression(), export.FullPrecision()), table, weights, 1.0)
    assert fp32 == 4 * (table + weights)


def test_the_default_space_searches_the_4_bit_encoder_that_runs_at_int8_speed():
    """int4-as-int8 on every target (on onnx-mobile its decode ships as weights.ort), never MatMulNBits' int4."""
    assert {c.encoder.name for c in default_space(False, False)} == {"int8", "int4-as-int8"}
    over_budget = Candidate(export.LightToken(ratio=50), export.Int8Encoder())
    assert Candidate(export.LightToken(ratio=100), export.Int4AsInt8()).harder_than(over_budget)


def test_equally_fast_candidates_go_to_the_smallest():
    def measured(p50: float, size: int) -> Measured:
        row = {"drop": 0.0, "model_bytes": size, "p50_ms": p50, "parity_passed": True}
        return Measured(SPACE[1], size, seeds=[row], status="within budget")

    quick, tied_smaller = measured(10.0, 300), measured(10.0 * (1 + LATENCY_TIE), 200)
    slow_smallest = measured(12.0, 100)
    assert fastest([quick, tied_smaller, slow_smallest]) is tied_smaller
    assert fastest([quick, slow_smallest]) is quick and fastest([]) is None


def test_an_unmeetable_budget_exits_1_naming_the_closest_and_writes_nothing(capsys, tmp_path, tiny_checkpoint):
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    stored_over_budget(out, checkpoint, {"int8 encoder:int4-as-int8": 2.0, "int8 encoder:int8": 3.0})
    code, err = run_cli(capsys, "bert", "--model", str(checkpoint), "--evaluate", str(SST2_DIR), "--max-drop", "1",
                        "--out", str(out))  # fmt: skip
    assert code == 1
    assert "no candidate keeps the drop within 1 pt on the search part (closest on the search part: int8 " \
        "encoder:int4-as-int8, +2.00 pt)" in err
    assert not out.exists()
    # the default space's lighttoken candidates cannot fit a 405-row table: tried for real, stored as errors
    stored = (tmp_path / ".bundle.search" / RESULTS).read_text().splitlines()
    assert sum("cannot reach ratio" in line for line in stored) == 6


def test_an_interrupted_search_resumes_without_rerunning_a_finished_candidate(capsys, tmp_path, tiny_checkpoint):
    """The first run is killed (SIGKILL) as soon as its first candidate's result is on disk; the second run reads
    it back: it exports no candidate again, only the confirmation."""
    checkpoint = tiny_checkpoint("bert-classifier")
    out = tmp_path / "bundle"
    results = tmp_path / ".bundle.search" / RESULTS
    code = ("import export; from export.budget import Candidate; "
            "space = [Candidate(export.Int8(), export.Int4Encoder()), Candidate(export.Int8(), export.Int8Encoder())]; "
            f"export.search('bert', model={str(checkpoint)!r}, evaluate={str(SST2_DIR)!r}, max_drop=1.0, "
            f"space=space, out={str(out)!r}, progress=False)")  # fmt: skip
    first = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (results.is_file() and results.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert results.read_text().count("\n") == 1 and not out.exists()
    capsys.readouterr()
    result = export.search("bert", model=str(checkpoint), evaluate=SST2_DIR, max_drop=1.0, space=SPACE, out=out,
                           progress=True)  # fmt: skip
    progress = capsys.readouterr().err
    assert result.report["search"]["chosen"] == SPACE[0].key
    assert "candidate 1/2" not in progress and "confirming" in progress  # only the confirmation was exported


@pytest.mark.parametrize(("flags", "expected"), [
    (["--max-drop", "0.5", "--embedding", "svd"], "--max-drop chooses the settings itself; leave out --embedding"),
    (["--max-drop", "0.5", "--seed", "3"], "--max-drop chooses the settings itself; leave out --seed"),
    (["--max-drop", "0.5", "--no-encoder-calibrate"], "--max-drop chooses the settings itself; leave out --encoder-c"),
    (["--max-drop", "0.5", "--encoder-share", "layer"], "the settings itself; leave out --encoder-share"),
    (["--max-drop", "0.5"], "--max-drop needs --evaluate DATA"),
    (["--max-drop", "-1", "--evaluate", str(SST2_DEV)], "--max-drop must be a number of points"),
    (["--max-drop", "0.5", "--evaluate", str(SST2_DEV), "--search-minutes", "0"], "--search-minutes must be more"),
])  # fmt: skip
def test_search_refuses_bad_flags(capsys, tmp_path, flags, expected):
    code, err = run_cli(capsys, "bert", *flags, "--out", str(tmp_path / "b"))
    assert_refused(code, err, expected)
    assert not (tmp_path / "b").exists() and not (tmp_path / ".b.search").exists()


def test_the_cli_search_flags_are_search_arguments():
    """The CLI is thin: --max-drop's flags map onto export.search's keywords, with its defaults (a steering flag
    left out is left out of the call, so search()'s own default applies)."""
    import inspect

    from export.cli import build_parser, search_arguments

    args = build_parser().parse_args(["bert", "--evaluate", str(SST2_DIR), "--max-drop", "0.5"])
    arguments = search_arguments(args)
    parameters = inspect.signature(export.search).parameters
    assert set(arguments) <= set(parameters)
    for name in ("objective", "search_minutes", "strict", "force", "target"):
        assert arguments.get(name, parameters[name].default) == parameters[name].default, name
    assert "objective" not in arguments and "search_minutes" not in arguments


def test_too_few_examples_to_split_is_refused(tmp_path):
    from export.errors import UserInputError

    small = tmp_path / "small.tsv"
    small.write_text("sentence\tlabel\n" + "".join(f"text number {i}\t{i % 2}\n" for i in range(30)))
    with pytest.raises(UserInputError, match=r"at least 20 labelled examples in each half .*'s 30 split 15 / 15"):
        split_labelled_set(small, stratified=True)


def test_classes_of_odd_size_give_their_extra_example_to_each_half_in_turn(tmp_path):
    """Every class gave its odd example to the search part: classes of 13, 13 and 15 split 22 / 19, and a set of 45
    examples split 45 / 0 when every label was its own class, refused as too small """
    targets = ["a"] * 13 + ["b"] * 13 + ["c"] * 15
    assert [len(part) for part in split_rows(targets, stratified=True)] == [21, 20]
    assert [len(part) for part in split_rows([str(i) for i in range(45)], stratified=True)] == [23, 22]
    table = tmp_path / "labels.tsv"
    table.write_text("sentence\tlabel\n" + "".join(f"text number {i}\t{t}\n" for i, t in enumerate(targets)))
    planned = split_labelled_set(table, stratified=True)
    assert (len(planned.search_rows), len(planned.confirm_rows)) == (21, 20)
