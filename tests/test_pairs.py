"""Sentence-pair tasks: reading every GLUE layout and plain tables, exporting pair models (tiny ones here; the
real STS-B cross-encoder in test_real_models.py), and running them in runtime_py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SST2_DIR, STSB_DIR, schema_errors
from test_tiny_exports import export

from export.cli import main
from export.datasets import read_examples, read_texts
from export.errors import UserInputError
from export.evaluate import bundle_outputs
from export.probes import PAIR_PROBES
from export.tasks import TASKS, load_set
from runtime_py.bundle import Bundle
from runtime_py.manifest import BundleError
from runtime_py.parity import softmax

# One row each, as GLUE ships the dev files (CoLA without a header; MNLI's dev set is dev_matched.tsv).
GLUE = {
    "CoLA/dev.tsv": "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\n",
    "MRPC/dev.tsv": "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe said \"yes\".\tHe agreed.\n",
    "QQP/dev.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tWhy?\tHow come?\t1\n",
    "RTE/dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tA dog barks.\tAn animal makes noise.\tentailment\n",
    "WNLI/dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tIt rained.\tThe ground is wet.\t1\n",
    "QNLI/dev.tsv": "index\tquestion\tsentence\tlabel\n0\tWho?\tNobody knows.\tnot_entailment\n",
    "MNLI/dev_matched.tsv": (
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
        "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
        "0\t1\t1n\tfiction\t(a)\t(b)\t(a)\t(b)\tA man sleeps.\tA man is awake.\tcontradiction\tcontradiction\n"
    ),
}
EXPECTED = {  # layout, first text, second text, target as written
    "CoLA": ("cola", "The sailors rode the breeze clear of the rocks.", None, "1"),
    "MRPC": ("mrpc", 'He said "yes".', "He agreed.", "1"),
    "QQP": ("qqp", "Why?", "How come?", "1"),
    "RTE": ("rte", "A dog barks.", "An animal makes noise.", "entailment"),
    "WNLI": ("rte", "It rained.", "The ground is wet.", "1"),
    "QNLI": ("qnli", "Who?", "Nobody knows.", "not_entailment"),
    "MNLI": ("mnli", "A man sleeps.", "A man is awake.", "contradiction"),
}


@pytest.fixture
def glue(tmp_path):
    for name, text in GLUE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_every_glue_layout_is_read_from_its_task_folder(glue, task):
    examples = read_examples(glue / task)
    layout, first, second, target = EXPECTED[task]
    assert (examples.layout.name, examples.texts, examples.targets) == (layout, [first], [target])
    assert examples.text_pairs == (None if second is None else [second])


def test_the_real_glue_files_are_read_whole(shared_assets):
    sst2, stsb = read_examples(SST2_DIR), read_examples(STSB_DIR)
    assert (sst2.layout.name, len(sst2.texts), sst2.pairs) == ("sst2", 872, False)
    assert (stsb.layout.name, len(stsb.texts), len(stsb.text_pairs)) == ("stsb", 1500, 1500)
    assert stsb.scores()[:2] == [5.0, 4.75]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_plain_tables_with_text_text_pair_and_label_or_score(tmp_path, suffix):
    rows = [{"text": 'a "quoted", text', "text_pair": "b", "label": "positive"},
            {"text": "c", "text_pair": "d", "label": "negative"}]  # fmt: skip
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".csv":
        path.write_text('text,text_pair,label\n"a ""quoted"", text",b,positive\nc,d,negative\n', encoding="utf-8")
    else:
        path.write_text('text\ttext_pair\tlabel\na "quoted", text\tb\tpositive\nc\td\tnegative\n', encoding="utf-8")
    examples = read_examples(path)
    assert examples.layout.name == "pairs" and examples.texts == ['a "quoted", text', "c"]
    assert examples.text_pairs == ["b", "d"] and examples.targets == ["positive", "negative"]
    data = TASKS["text-pair-classification"].labelled_set(examples, ["negative", "positive"])
    assert data.metric == "accuracy" and data.score(np.array([[0.0, 1.0], [0.0, 1.0]])) == 0.5
    scored = tmp_path / "scored.csv"
    scored.write_text("text,score\nx,0.5\ny,2\n", encoding="utf-8")
    assert read_examples(scored).layout.name == "scored-texts" and read_examples(scored).scores() == [0.5, 2.0]


def test_tables_as_other_tools_write_them(tmp_path):
    """A line separator inside a JSON string (json.dumps leaves U+2028 raw with ensure_ascii=False), a label pandas
    wrote as 1.0, and a row with a tab inside a quoted field, which a TSV read as GLUE's splits into more columns
    than the header: that one is refused, naming the row, instead of shifting its label."""
    jsonl = tmp_path / "set.jsonl"
    rows = [{"text": "one line\u2028and the next", "label": 1.0}, {"text": "plain", "label": 0.0}]
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    examples = read_examples(jsonl)
    assert examples.texts == ["one line\u2028and the next", "plain"] and examples.targets == ["1.0", "0.0"]
    labelled = TASKS["text-classification"].labelled_set(examples, ["LABEL_0", "LABEL_1"])
    assert labelled.score(np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0
    tsv = tmp_path / "set.tsv"
    tsv.write_text('text\tlabel\nfine\t1\n"quoted\ttab"\t0\n', encoding="utf-8")
    with pytest.raises(UserInputError, match=r"row 3 has more columns than the header \(3, not 2\)"):
        read_examples(tsv)
    with pytest.raises(UserInputError, match=r"row 3 has more columns than the header"):
        read_texts(tsv, "--distill")


def test_a_jsonl_object_without_a_column_it_is_scored_on_is_refused(tmp_path):
    """A missing key, or a null, was read as an empty text: a pair scored as (text, "")."""
    for second in ("", ', "text_pair": null'):
        jsonl = tmp_path / "set.jsonl"
        jsonl.write_text('{"text": "a", "text_pair": "b", "label": 1}\n' f'{{"text": "c"{second}, "label": 0}}\n')
        with pytest.raises(UserInputError, match=r"set\.jsonl: object 2 has no text_pair \(or it is null\)"):
            read_examples(jsonl)
    assert read_texts(jsonl, "--vocab") == ["a", "c", "b"]  # unlabelled text skips what is not there


def test_cola_as_a_search_split_writes_it_is_read_as_cola_not_sst2(tmp_path):
    """--max-drop writes CoLA's parts as JSONL objects with its four columns named; sentence and label alone matched
    SST-2, whose label names (negative, positive) then mapped CoLA's numbers on a checkpoint named otherwise."""
    part = tmp_path / "dev-search.jsonl"
    rows = [{"source": "gj04", "label": "1", "author_label": "", "sentence": "The sailors rode the breeze."}]
    part.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    examples = read_examples(part)
    assert examples.layout.name == "cola" and examples.layout.number_names == ("unacceptable", "acceptable")


def test_a_scored_set_whose_scores_are_all_equal_is_refused(tmp_path):
    # Spearman against a constant is NaN, which went into report.json as a bare NaN (not JSON)
    scored = tmp_path / "set.tsv"
    scored.write_text("text\tscore\na\t3.0\nb\t3\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="every score is 3; a Spearman correlation needs scores that differ"):
        read_examples(scored)


def test_table_suffixes_are_read_whatever_their_case(tmp_path):
    upper = tmp_path / "set.CSV"
    upper.write_text('text,label\n"one, with a comma",1\n', encoding="utf-8")
    assert read_examples(upper).texts == ["one, with a comma"]


def test_plain_text_loses_its_byte_order_mark_and_cola_is_read_without_its_header(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_bytes("\ufefffirst line\nsecond\n".encode())
    assert read_texts(text, "--vocab") == ["first line", "second"]
    cola = tmp_path / "train.tsv"  # GLUE's CoLA: source, label, the author's mark, sentence; no header
    cola.write_text("gj04\t1\t\tThe sailors rode the breeze.\ngj04\t0\t*\tThe more we study.\n")
    assert read_texts(cola, "--distill") == ["The sailors rode the breeze.", "The more we study."]


def test_labels_map_by_the_models_names_then_glues_order_then_number(glue):
    rte = read_examples(glue / "RTE")
    nli = TASKS["text-pair-classification"]
    # the checkpoint names its labels: "entailment" is its index 1
    assert nli.labelled_set(rte, ["not_entailment", "ENTAILMENT"]).score(np.array([[0.0, 1.0]])) == 1.0
    # generic names: GLUE's order (entailment = 0)
    assert nli.labelled_set(rte, ["LABEL_0", "LABEL_1"]).score(np.array([[1.0, 0.0]])) == 1.0
    wnli = read_examples(glue / "WNLI")  # labels written as numbers
    assert nli.labelled_set(wnli, ["LABEL_0", "LABEL_1"]).score(np.array([[0.0, 1.0]])) == 1.0
    with pytest.raises(UserInputError, match="label 'contradiction' is not one of the model's labels"):
        nli.labelled_set(read_examples(glue / "MNLI"), ["a", "b"])


def test_a_glue_files_numbers_map_by_the_names_behind_them(shared_assets):
    """SST-2 writes its labels as 0/1 (1: positive). Read as the model's index, a checkpoint labelled NEGATIVE,
    POSITIVE in the other order scored the dev set inverted, and a three-way sentiment model scored every positive
    sentence against neutral, silently."""
    sst2 = read_examples(SST2_DIR)
    positive = np.array([t == "1" for t in sst2.targets])
    single = TASKS["text-classification"]
    assert single.labelled_set(sst2, ["positive", "NEGATIVE"]).score(np.eye(2)[(~positive).astype(int)]) == 1.0
    three_way = np.eye(3)[np.where(positive, 2, 0)]  # negative, neutral, positive
    assert single.labelled_set(sst2, ["negative", "neutral", "positive"]).score(three_way) == 1.0
    assert single.labelled_set(sst2, ["LABEL_0", "LABEL_1"]).score(np.eye(2)[positive.astype(int)]) == 1.0


def test_numbers_that_name_nothing_for_sure_are_the_models_indices(tmp_path):
    """A table of the user's own with GLUE's column names (sentence, label) and three topics; an RTE file written
    by the `datasets` library (0: entailment, where GLUE's WNLI file writes 1 for it): the numbers are read as
    the model's indices, as a checkpoint trained on them numbers its labels."""
    topics = tmp_path / "topics.tsv"
    topics.write_text("sentence\tlabel\nrain today\t0\na goal\t1\nstocks fell\t2\n", encoding="utf-8")
    labelled = TASKS["text-classification"].labelled_set(read_examples(topics), ["World", "Sports", "Business"])
    assert labelled.score(np.eye(3)) == 1.0
    rte = tmp_path / "rte.tsv"
    rte.write_text("sentence1\tsentence2\tlabel\nA dog barks.\tAn animal makes noise.\t0\n"
                   "A dog barks.\tNothing happens.\t1\n", encoding="utf-8")  # fmt: skip
    nli = TASKS["text-pair-classification"].labelled_set(read_examples(rte), ["entailment", "not_entailment"])
    assert nli.score(np.eye(2)) == 1.0


def test_sets_a_task_cannot_score_are_refused_with_the_fix(glue, tmp_path, shared_assets):
    with pytest.raises(UserInputError, match="--task text-pair-classification"):
        load_set(glue / "RTE", "text-classification", ["entailment", "not_entailment"])
    with pytest.raises(UserInputError, match=r"holds single texts; .* --task text-classification"):
        load_set(SST2_DIR, "text-pair-classification", ["negative", "positive"])  # a one-output head is taken as pairs
    with pytest.raises(UserInputError, match="sentence embedder is scored on pairs with similarity scores"):
        load_set(glue / "MRPC", "feature-extraction")
    with pytest.raises(UserInputError, match="holds scores, which score a one-output model"):
        load_set(STSB_DIR, "text-pair-classification", ["no", "yes"])
    (tmp_path / "odd.tsv").write_text("question\tanswer\nx\ty\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="match no known layout"):
        read_examples(tmp_path / "odd.tsv")
    (tmp_path / "short.tsv").write_text("sentence\tlabel\nfine\t1\nshort\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="row 3 has fewer columns"):
        read_examples(tmp_path / "short.tsv")
    with pytest.raises(UserInputError, match=r"has no dev\.tsv or dev_matched\.tsv"):
        read_examples(tmp_path)


# --- tiny pair models, exported and run -----------------------------------------------------------------------


def write_pairs(path, labels):
    rows = [(a or "empty", b or "empty", labels[i % len(labels)]) for i, (a, b) in enumerate(PAIR_PROBES)]
    path.write_text("".join(json.dumps({"text": a, "text_pair": b, "label": y}) + "\n" for a, b, y in rows))
    return path


def test_a_pair_classifier_without_token_types_exports_classifies_and_self_checks(
    tmp_path, export_cache, tiny_checkpoint
):
    """RoBERTa reads a pair as <s> a </s></s> b </s>, without token types; the NLI labels come from its config.
    The pair task is picked because the evaluation data holds pairs."""
    data = write_pairs(tmp_path / "nli.jsonl", ["entailment", "neutral", "contradiction"])
    out, report, _ = export(tmp_path, export_cache, tiny_checkpoint("roberta-nli"), "roberta", "--embedding", "int8",
                            "--evaluate", str(data))  # fmt: skip
    assert report["task"] == "text-pair-classification" and report["parity"]["passed"]
    assert report["accuracy"]["metric"] == "accuracy" and report["accuracy"]["examples"] == len(PAIR_PROBES)
    golden = json.loads((out / "golden.json").read_text())["probes"]
    assert [(p["text"], p["text_pair"]) for p in golden] == list(PAIR_PROBES)
    bundle = Bundle.load(out)
    assert schema_errors(out) == []
    assert bundle.manifest.input_names == ["input_ids", "attention_mask"]
    assert bundle.self_check().passed
    predictions = bundle.classify(list(PAIR_PROBES[:3]))
    assert all(p.label in ("entailment", "neutral", "contradiction") for p in predictions)
    assert bundle.classify(PAIR_PROBES[0]) == predictions[0]  # one pair in, one Prediction out
    scores = bundle.score(list(PAIR_PROBES[:3]), label="entailment")
    probabilities = softmax(bundle.outputs(list(PAIR_PROBES[:3])).astype(np.float64))
    assert scores == pytest.approx(probabilities[:, 0])  # entailment's probability
    # by default too: MNLI's labels end with contradiction, which ranked the worst passages first
    assert bundle.score(list(PAIR_PROBES[:3])) == pytest.approx(probabilities[:, 0])
    hits = bundle.rerank("a cat", ["a cat sleeps", "no cat", "dogs"])
    assert [h.score for h in hits] == pytest.approx(sorted(bundle.score([("a cat", "a cat sleeps"), ("a cat", "no cat"),
                                                                        ("a cat", "dogs")]), reverse=True))  # fmt: skip
    with pytest.raises(TypeError, match="not a \\(text, text_pair\\) tuple"):
        bundle.classify(["just a text"])
    with pytest.raises(TypeError, match=r"pairs\[0\] is not a \(text, text_pair\) tuple"):  # two texts, not one pair
        bundle.classify(["a cat", "a dog"])
    with pytest.raises(ValueError, match="pair 2: text 2 is not valid UTF-8"):
        bundle.score([("a", "b"), ("c", "d\udcff")])
    with pytest.raises(BundleError, match="embed\\(\\) needs a feature-extraction bundle"):
        bundle.embed("text")


def test_a_one_output_pair_model_is_detected_scores_and_reranks(tmp_path, export_cache, tiny_checkpoint):
    """A classification head with one output (a cross-encoder) is exported as a pair model without --task. The
    fp32 encoder (--encoder none): a random tiny model's score hardly varies between inputs, so int8 noise would
    swamp what the parity check correlates (a trained cross-encoder's scores spread: test_real_models.py)."""
    out, report, _ = export(tmp_path, export_cache, tiny_checkpoint("bert-cross"), "bert", "--embedding", "int8",
                            "--encoder", "none")
    assert report["task"] == "text-pair-classification" and report["parity"]["top1_agreement"] is None
    golden = json.loads((out / "golden.json").read_text())["probes"]
    first = golden[0]
    sep = first["input_ids"].index(first["input_ids"][-1])  # the first [SEP]
    assert first["token_type_ids"] == [0] * (sep + 1) + [1] * (len(first["input_ids"]) - sep - 1)
    assert max(len(p["input_ids"]) for p in golden) == 256  # the long pairs are cut to the max length
    bundle = Bundle.load(out)
    assert schema_errors(out) == [] and bundle.manifest.labels == ["similarity"]
    assert bundle.self_check().passed
    passages = ["a cat", "a dog on a mat", "the cat sat on the mat", "nothing"]
    scores = bundle.score([("the cat", p) for p in passages])
    as_an_app = bundle_outputs(out, ["the cat"] * len(passages), text_pairs=passages)  # benchmarks' way
    np.testing.assert_allclose(as_an_app[:, 0], scores, rtol=0, atol=1e-6)
    hits = bundle.rerank("the cat", passages)
    assert [h.index for h in hits] == list(np.argsort(-scores, kind="stable"))
    assert [h.score for h in hits] == pytest.approx(sorted(scores, reverse=True))
    assert len(bundle.rerank("the cat", passages, k=2)) == 2 and bundle.rerank("q", []) == []
    with pytest.raises(TypeError, match="passages must be a list of texts, not one str"):  # was one passage
        bundle.rerank("the cat", "a cat on a mat")
    with pytest.raises(BundleError, match=r"one output .* use score\(\) or rerank\(\)"):
        bundle.classify(("a", "b"))
    with pytest.raises(BundleError, match=r"embed\(\) needs a feature-extraction bundle; .*: use score\(\)"):
        bundle.embed("a")
    with pytest.raises(ValueError, match="this model has one output, a score, and no labels"):  # was ignored
        bundle.score(("a", "b"), label="entailment")
    # its parity is the concordance of the scores across all the probes: a subset (one probe has no spread) is
    # refused, not failed falsely
    assert bundle.self_check(probes=len(golden)).passed
    with pytest.raises(BundleError, match="concordance of its scores across all 10 probes: replay them all"):
        bundle.self_check(probes=2)


def test_a_one_output_model_of_single_texts_scores_them(tmp_path, export_cache, tiny_checkpoint, capsys):
    """A regressor read as text-classification (one output, single texts): score() reads its output as it is."""
    from runtime_py.__main__ import main as runtime_main

    out, report, _ = export(tmp_path, export_cache, tiny_checkpoint("bert-cross"), "bert", "--embedding", "int8",
                            "--encoder", "none", "--task", "text-classification")  # fmt: skip
    assert report["task"] == "text-classification"
    bundle = Bundle.load(out)
    texts = ["a cat", "the cat sat on the mat"]
    scores = bundle.score(texts)
    np.testing.assert_allclose(scores, bundle.outputs(texts)[:, 0], rtol=0, atol=0)
    assert bundle.score("a cat") == scores[0]
    with pytest.raises(BundleError, match=r"use score\(\)$"):
        bundle.classify("a cat")
    with pytest.raises(BundleError, match=r"rerank\(\) needs a text-pair-classification bundle"):
        bundle.rerank("a cat", texts)
    assert runtime_main([str(out), *texts]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [float(line.split("\t")[0]) for line in lines] == pytest.approx(scores, abs=1e-4)


def test_the_text_classification_task_refuses_pair_data(tmp_path, tiny_checkpoint, capsys):
    data = write_pairs(tmp_path / "pairs.jsonl", ["negative", "positive"])
    args = ["bert", "--model", str(tiny_checkpoint("bert-classifier")), "--task", "text-classification",
            "--embedding", "int8", "--evaluate", str(data), "--out", str(tmp_path / "b")]  # fmt: skip
    assert main(args) == 2
    assert "--task text-pair-classification" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_a_label_that_only_looks_like_a_number_is_refused_in_one_line(tmp_path):
    """"²" passes str.isdigit() and int() refuses it; a 5,000-digit label passes too and is past int()'s limit:
    both ended the export in a ValueError traceback after the model loaded."""
    from export.tasks.base import label_indices

    for label in ("²", "9" * 5000):
        data = tmp_path / f"{len(label)}.tsv"
        data.write_text(f"sentence\tlabel\nhello world\t{label}\nbad movie\t0\n", encoding="utf-8")
        with pytest.raises(UserInputError, match="is not one of the model's labels"):
            label_indices(read_examples(data), ["LABEL_0", "LABEL_1"])
