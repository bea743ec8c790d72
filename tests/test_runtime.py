"""runtime_py on bundles the exporter made in this run: same outputs, same accuracy, same token ids; its errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SST2_DIR, STSB_DIR, schema_errors
from transformers import AutoTokenizer

from export.tasks import load_set
from runtime_py import Bundle, BundleError
from runtime_py.__main__ import default_lengths
from runtime_py.__main__ import main as runtime_main
from runtime_py.manifest import Manifest, sha256
from runtime_py.parity import agreement


@pytest.fixture(scope="module")
def minilm(minilm_bundle):
    return Bundle.load(minilm_bundle[0])


@pytest.fixture(scope="module")
def sst2(sst2_bundle):
    return Bundle.load(sst2_bundle[0])


# --- the same results as the exporter -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["minilm", "sst2"])
def test_self_check_passes_and_reproduces_the_exporters_outputs(request, name):
    check = request.getfixturevalue(name).self_check()
    assert check.passed, check.failures
    assert check.probes == 12 and check.token_id_mismatches == []
    assert check.max_abs_diff_vs_export < 1e-7  # golden.json rounds to 8 decimals
    # Against PyTorch with the bundle's own lighttoken table: the int8 encoder's error alone (measured 0.9888).
    assert check.min_cosine >= max(check.min_cosine_required, 0.98)


@pytest.mark.parametrize("name", ["minilm", "sst2"])
def test_bundle_json_conforms_to_the_schema_and_reads_back_whole(request, name):
    """The Manifest type writes bundle.json and reads it back to the same fields; runtime_py/bundle.schema.json
    (which the Java core's tests check too) describes what it wrote."""
    bundle = request.getfixturevalue(name)
    folder = bundle.manifest.folder
    assert schema_errors(folder) == []
    raw = json.loads((folder / "bundle.json").read_text())
    assert Manifest.from_json(raw, folder).to_json() == raw
    assert set(raw["files"]) == {"model.ort", "golden.json", "required_operators.config",
                                 "required_operators_and_types.config", *raw["tokenizer"]["files"]}  # fmt: skip
    assert raw["embedding"]["settings"] == {"method": "lighttoken", "ratio": 25.0, "stages": 2, "frequency_power": 0.5,
                                            "frequent_share": 0.125, "frequent_rows": 255, "rounds": 12}  # fmt: skip


def test_schema_catches_a_manifest_that_breaks_the_contract(minilm, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    raw = json.loads((minilm.manifest.folder / "bundle.json").read_text())
    del raw["files"]
    raw["task"] = "translation"
    (broken / "bundle.json").write_text(json.dumps(raw))
    errors = schema_errors(broken)
    assert any("'files' is a required property" in e for e in errors)
    assert any("'translation' is not one of" in e for e in errors)


def test_sst2_accuracy_equals_the_report(sst2, sst2_bundle):
    data = load_set(SST2_DIR, "text-classification")
    logits = sst2.outputs(data.texts)
    assert data.score(logits) == sst2_bundle[1]["accuracy"]["bundle"]
    predictions = sst2.classify(data.texts[:50])
    assert [p.label for p in predictions] == [["negative", "positive"][i] for i in logits[:50].argmax(-1)]


def test_stsb_spearman_equals_the_report(minilm, minilm_bundle):
    data = load_set(STSB_DIR, "feature-extraction")
    assert data.score(minilm.embed(data.texts)) == minilm_bundle[1]["accuracy"]["bundle"]


def test_token_ids_equal_transformers_on_every_dev_sentence(minilm, minilm_bundle):
    texts = list(load_set(SST2_DIR, "text-classification").texts) + list(load_set(STSB_DIR, "feature-extraction").texts)
    reference = AutoTokenizer.from_pretrained(minilm_bundle[0])
    expected = reference(texts, truncation=True, max_length=minilm.manifest.max_length)["input_ids"]
    assert len(texts) == 872 + 2 * 1500
    assert minilm.encoder.token_ids(texts) == expected


# --- task APIs ----------------------------------------------------------------------------------------------------


def test_embed_search_and_similarity(minilm):
    corpus = ["A man is playing a guitar.", "A cat sleeps on the sofa.", "Stock markets fell sharply today."]
    assert minilm.embed(corpus).shape == (3, 384)
    assert np.linalg.norm(minilm.embed("one text")) == pytest.approx(1, abs=1e-4)
    hits = minilm.search("a kitten is napping on the couch", corpus, k=2)
    assert hits[0].index == 1 and hits[0].score > 0.5 > hits[1].score and len(hits) == 2
    assert minilm.search("a kitten is napping on the couch", minilm.embed(corpus), k=1)[0].index == 1
    # given embeddings score as the texts do, cosines however they were scaled
    scaled = minilm.search("a kitten is napping on the couch", 3 * minilm.embed(corpus), k=2)
    assert [h.score for h in scaled] == pytest.approx([h.score for h in hits], abs=1e-6)
    assert minilm.similarity("a cat", "a cat") == pytest.approx(1, abs=1e-4)
    assert minilm.similarity(corpus, corpus[:2]).shape == (3, 2)


def test_classify_gives_labels_and_probabilities(sst2):
    label, probability = sst2.classify("An utterly delightful, moving film.")
    assert label == "positive" and 0.9 < probability <= 1
    assert [p.label for p in sst2.classify(["A dull, lifeless mess.", "Wonderful!"])] == ["negative", "positive"]
    assert sst2.classify([]) == [] and sst2.outputs([]).shape == (0, 2)


def test_empty_and_overlong_texts(minilm):
    assert minilm.embed("").shape == (384,)
    assert minilm.embed([]).shape == (0, 384)
    long_text = "word " * 5000
    ids = minilm.encoder.token_ids([long_text])[0]
    assert len(ids) == minilm.manifest.max_length
    cut = AutoTokenizer.from_pretrained(minilm.manifest.folder).decode(ids[1:-1])
    assert minilm.similarity(long_text, cut) > 0.999


def test_batches_are_padded_and_close_to_one_at_a_time(minilm):
    texts = ["short", "a rather longer sentence with quite a few more tokens in it", "mid length text"]
    batched, alone = minilm.embed(texts, batch_size=3), minilm.embed(texts)
    assert batched.shape == alone.shape == (3, 384)
    assert (np.sum(batched * alone, axis=1) > 0.98).all()


def test_wrong_task_and_bad_input_are_refused_clearly(minilm, sst2):
    with pytest.raises(BundleError, match="classify\\(\\) needs a classifier bundle"):
        minilm.classify("text")
    with pytest.raises(BundleError, match="use classify\\(\\)"):
        sst2.embed("text")
    with pytest.raises(TypeError, match="not int"):
        minilm.embed(42)
    with pytest.raises(TypeError, match=r"texts\[1\] is a NoneType"):
        minilm.embed(["fine", None])
    with pytest.raises(TypeError, match="query must be a str"):
        minilm.search(["a list"], ["corpus"])
    with pytest.raises(ValueError, match="batch_size must be at least 1, not 0"):
        minilm.embed(["a"], batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be a whole number, not '3'"):  # was: '<' not supported
        minilm.embed(["a"], batch_size="3")
    with pytest.raises(TypeError, match=r"k must be a whole number, not 2\.5"):
        minilm.search("cat", ["corpus"], k=2.5)
    with pytest.raises(ValueError, match="k must be at least 0, not -1"):  # was: silently no hits
        minilm.search("cat", ["corpus"], k=-1)
    with pytest.raises(TypeError, match="probes must be a whole number, not '2'"):
        minilm.self_check(probes="2")
    nan_corpus = minilm.embed(["a", "b"])
    nan_corpus[1, 0] = np.nan  # it used to score NaN and land anywhere in the ranking
    with pytest.raises(ValueError, match="corpus embeddings hold NaN or infinite values"):
        minilm.search("cat", nan_corpus)
    with pytest.raises(ValueError, match="text 2 is not valid UTF-8"):  # what Python makes of non-UTF-8 argv bytes
        minilm.embed(["fine", "caf\udce9"])
    with pytest.raises(ValueError, match="text 1 is not valid UTF-8"):
        minilm.search("\udcff", ["corpus"])
    with pytest.raises(ValueError, match=r"corpus embeddings must be numbers of shape \[n, 384\]"):
        minilm.search("cat", np.zeros(384))
    with pytest.raises(TypeError, match="not one str"):
        minilm.search("cat", "a corpus of one text")
    for threads in (10**6, 0, 1.5, "2"):  # 10**6 used to hang: ONNX Runtime makes every thread up front
        with pytest.raises(ValueError, match="threads must be a whole number from 1 to"):
            Bundle.load(minilm.manifest.folder, threads=threads)


@pytest.mark.parametrize("which", ["minilm_bundle", "tiny_int4_bundle"])
def test_one_session_is_safe_to_share_between_threads(request, which):
    """Also for a bundle with load-time weights (weights.ort), whose calls once shared one IO binding: threads ran
    on each other's inputs."""
    bundle = Bundle.load(request.getfixturevalue(which)[0])
    texts = [f"sentence number {i} about {'cats' if i % 2 else 'markets'} " * (1 + i % 5) for i in range(32)]
    serial = [bundle.embed(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            concurrent = list(pool.map(bundle.embed, texts))
            assert all(np.array_equal(a, b) for a, b in zip(serial, concurrent, strict=True))


# --- lean imports, corrupt bundles, the CLI -----------------------------------------------------------------------


def test_runtime_imports_neither_torch_nor_transformers_nor_the_exporter(tiny_bundle):
    code = (
        "import sys; from runtime_py import Bundle; b = Bundle.load(sys.argv[1]); b.embed(['x']); b.self_check();"
        "print(sorted(m for m in ('torch', 'transformers', 'export', 'optimum', 'onnx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tiny_bundle[0])], capture_output=True, text=True,
                            cwd=ROOT, check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(tiny_bundle[0], folder)
    return folder


def test_a_tokenizer_that_loads_but_cannot_encode_is_a_bundle_error(bundle_copy, capsys):
    """A WordLevel tokenizer.json without [UNK] loads, then fails on a word it lacks with the library's bare
    Exception: a traceback from the CLI before."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    Tokenizer(WordLevel({}, unk_token="[UNK]")).save(str(bundle_copy / "tokenizer.json"))
    with pytest.raises(BundleError, match=r"the tokenizer .*tokenizer\.json cannot encode the text: .*Missing"):
        Bundle.load(bundle_copy, verify=False).embed("hello")
    manifest = json.loads((bundle_copy / "bundle.json").read_text())
    manifest["files"]["tokenizer.json"] = sha256(bundle_copy / "tokenizer.json")
    (bundle_copy / "bundle.json").write_text(json.dumps(manifest))
    assert runtime_main([str(bundle_copy), "hello"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: the tokenizer ")


def test_a_missing_file_is_named(bundle_copy):
    (bundle_copy / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match=r"bundle file missing: .*tokenizer\.json"):
        Bundle.load(bundle_copy)


def test_a_corrupt_model_is_named(bundle_copy):
    model = bundle_copy / "model.ort"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"corrupt .*model\.ort"):
        Bundle.load(bundle_copy)


def test_an_unknown_format_version_or_broken_manifest_is_refused(bundle_copy):
    manifest = bundle_copy / "bundle.json"
    raw = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**raw, "format_version": 99}))
    with pytest.raises(BundleError, match="format_version 99; this runtime reads 2"):
        Bundle.load(bundle_copy)
    manifest.write_text(json.dumps({**raw, "format_version": 2.0}))  # equal to 2 in Python; the Java core refuses it
    with pytest.raises(BundleError, match=r"format_version 2\.0; this runtime reads 2"):
        Bundle.load(bundle_copy)
    manifest.write_text("{not json")
    with pytest.raises(BundleError, match=r"bundle\.json is not valid JSON"):
        Bundle.load(bundle_copy)
    with pytest.raises(BundleError, match="bundle folder not found"):
        Bundle.load(bundle_copy / "nowhere")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"files": []}, "files must map each file's name to its sha256"),
        ({"max_length": -1}, "max_length -1 is not between 2 and"),
        ({"max_length": 10**30}, "max_length 1000000000000000000000000000000 is not between 2 and"),
        ({"labels": "pos"}, "labels must be a list of label names"),
        ({"model": {"outputs": []}}, "model.outputs lists no output"),
        ({"model": {"file": None}}, "model.file must name a file of the bundle"),
        ({"tokenizer": {"file": None}}, "tokenizer.file must name a file of the bundle"),
        ({"tokenizer": {"pad_id": 10**30}}, "tokenizer.pad_id 1000000000000000000000000000000 is not a token id"),
        # NaN would pass every check; Python's json writes and reads it, JSON (and the Java core) has no NaN
        ({"tolerance": {"min_cosine": float("nan")}}, r"bundle\.json is not valid JSON: NaN is not a JSON value"),
        ({"model": {"file": "../model.ort"}}, "'../model.ort' is not a file inside the bundle's folder"),
        ({"tokenizer": {"file": "/etc/hostname"}}, "'/etc/hostname' is not a file inside the bundle's folder"),
        ({"files": {"../../x": "0" * 64}}, "'../../x' is not a file inside the bundle's folder"),  # before it is read
        ({"task": "text-pair-classification", "max_length": 2}, "max_length 2 leaves a pair model no room for text"),
        # at 3 it held [CLS] [SEP] [SEP], no text; a BPE pair's four specials need 6
        ({"task": "text-pair-classification", "max_length": 4},
         r"max_length 4 leaves a pair model no room for text \(its 3 special tokens and a token of each text need 5\)"),
        ({"max_length": "300"}, "max_length: '300' is not a whole number"),  # was read as 300
        ({"max_length": 512.9}, "max_length: 512.9 is not a whole number"),  # was cut to 512
        ({"max_length": float("inf")}, "Infinity is not a JSON value"),  # was an OverflowError traceback
        ({"tokenizer": {"pad_id": True}}, "tokenizer.pad_id: True is not a whole number"),
        # read as 0.9 and 1.0 by float(), refused by the Java core
        ({"tolerance": {"min_cosine": "0.9"}}, "min_cosine must be within"),
        ({"tolerance": {"min_top1_agreement": True}}, "min_top1_agreement within"),
        ({"labels": []}, "labels must be a list of label names"),
        ({"normalized": "false"}, "normalized: 'false' is not true or false"),  # was read as true
        # a list for a name was a TypeError traceback where the names are compared
        ({"model": {"inputs": [{"name": ["input_ids"], "dtype": "int64", "shape": ["batch", "sequence"]}]}},
         r"model\.inputs: .* is not a tensor's name, dtype \(strings\) and shape \(a list\)"),
        ({"model": {"outputs": [{"name": "x", "dtype": 7, "shape": []}]}}, "model.outputs: .* is not a tensor's"),
        ({"model": {"inputs": [{"name": n, "dtype": "int64", "shape": ["batch", "sequence"]}
                               for n in ("input_ids", "input_ids", "attention_mask")]}},
         "model.inputs names an input twice"),
    ],
)
def test_a_manifest_with_a_malformed_field_is_refused(bundle_copy, change, expected):
    manifest = bundle_copy / "bundle.json"
    manifest.write_text(json.dumps(changed(json.loads(manifest.read_text()), change)))
    with pytest.raises(BundleError, match=expected):
        Bundle.load(bundle_copy, verify=False)


def test_a_manifest_must_list_the_files_the_runtime_reads(bundle_copy):
    """Each is checked against its sha256 only when `files` lists it: left out, a model loaded unchecked."""
    manifest = bundle_copy / "bundle.json"
    raw = json.loads(manifest.read_text())
    del raw["files"]["model.ort"]
    manifest.write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=r"model\.file model\.ort is not listed in files with its sha256"):
        Bundle.load(bundle_copy)


def changed(raw: dict, change: dict) -> dict:
    """raw with change merged in, one level into the objects it names (so {"model": {"file": x}} keeps the rest)."""
    merged = dict(raw)
    for key, value in change.items():
        merged[key] = {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict) else value
    return merged


def test_json_nested_past_pythons_recursion_limit_is_refused(bundle_copy):
    (bundle_copy / "golden.json").write_text('{"probes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(BundleError, match=r"cannot read the probes in .*: nested too deeply"):
        Bundle.load(bundle_copy, verify=False).self_check()
    (bundle_copy / "bundle.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="is nested too deeply to be a bundle's JSON"):
        Bundle.load(bundle_copy)


def test_a_file_name_the_file_system_refuses_is_named(bundle_copy):
    manifest = bundle_copy / "bundle.json"
    raw = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**raw, "files": {**raw["files"], "a" * 300: "0" * 64}}))
    long_name = bundle_copy / ("a" * 300)
    with pytest.raises(BundleError, match=f"cannot read the bundle file {long_name}: File name too long"):
        Bundle.load(bundle_copy)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tokenizer": {"pad_id": 999_999}}, "the bundle's model failed on its own tokenizer's inputs: .*Gather"),
        ({"model": {"outputs": [{"name": "nope", "dtype": "float32", "shape": ["batch", "hidden"]}]}},
         "bundle.json names the output 'nope'; the model's are"),
    ],
    ids=["pad-id-past-the-table", "unknown-output"],
)
def test_a_manifest_the_model_refuses_is_a_bundle_error(bundle_copy, change, expected):
    manifest = bundle_copy / "bundle.json"
    manifest.write_text(json.dumps(changed(json.loads(manifest.read_text()), change)))
    with pytest.raises(BundleError, match=expected):
        Bundle.load(bundle_copy, verify=False).embed(["a", "a longer text, so the first is padded"], batch_size=2)


def test_a_classifier_with_labels_that_do_not_match_its_outputs_is_refused(sst2_bundle, tmp_path):
    folder = tmp_path / "sst2"
    shutil.copytree(sst2_bundle[0], folder)
    manifest = folder / "bundle.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "labels": ["only"]}))
    with pytest.raises(BundleError, match=r"bundle\.json names 1 labels for a model with 2 outputs"):
        Bundle.load(folder, verify=False)


def _probes_without_reference(data: dict) -> dict:
    return {"probes": [{k: v for k, v in probe.items() if k != "reference"} for probe in data["probes"]]}


def _outputs_one_short(data: dict) -> dict:
    return {"probes": [{**p, "reference": p["reference"][:-1], "bundle": p["bundle"][:-1]} for p in data["probes"]]}


def _a_probe_text_that_is_a_number(data: dict) -> dict:
    first, *rest = data["probes"]
    return {"probes": [{**first, "text": 123}, *rest]}


def _a_reference_that_is_nan(data: dict) -> dict:
    first, *rest = data["probes"]
    return {"probes": [{**first, "reference": [float("nan")] * len(first["reference"])}, *rest]}


def _ragged_references(data: dict) -> dict:
    first, *rest = data["probes"]
    return {"probes": [{**first, "reference": first["reference"][:-1]}, *rest]}


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (lambda data: data["probes"], "cannot read the probes in"),
        (_probes_without_reference, "probe 0 has no reference"),
        (_ragged_references, "the probes' reference outputs are not rows of finite numbers of one length"),
        (_outputs_one_short, "stored outputs of shape"),
        (_a_probe_text_that_is_a_number, "probe 0's text is not a string"),
        # json.dumps writes NaN, which JSON (and the Java core's reader) has not: refused as the file is read
        (_a_reference_that_is_nan, "NaN is not a JSON value"),
    ],
)
def test_a_malformed_golden_json_is_named_not_a_traceback(bundle_copy, broken, expected):
    golden = bundle_copy / "golden.json"
    golden.write_text(json.dumps(broken(json.loads(golden.read_text()))))
    with pytest.raises(BundleError, match=expected):
        Bundle.load(bundle_copy, verify=False).self_check()


def test_nan_outputs_fail_the_parity_rule():
    """A broken model that outputs NaN must not pass the exporter's validation or a self-check: NaN compares false
    with every tolerance."""
    references = np.array([[1.0, 0.0], [0.0, 1.0]])
    agreed = agreement(np.array([[1.0, 0.0], [np.nan, 1.0]]), references, classifier=False)
    assert agreed.failures(0.5, 0.0) == ["min cosine nan < 0.5"]
    assert agreement(references, references, classifier=False).failures(0.5, 0.0) == []


def test_a_one_output_score_off_in_level_or_scale_fails_the_parity_rule():
    """A one-output model (a cross-encoder's score) is held to the concordance of its scores with the reference's:
    in step but shifted (a head that lost its bias) or shrunk, Pearson's correlation would still be 1."""
    references = np.linspace(0.02, 0.98, 10)[:, None]  # the STS-B cross-encoder's probes run from 0.02 to 0.98
    assert agreement(references + 0.001, references, classifier=True).failures(0.99, 0.0) == []
    for broken in (references + 0.3, 0.5 * references, 2 * references - 0.5):
        agreed = agreement(broken, references, classifier=True)
        assert agreed.failures(0.9, 0.0) == [f"score concordance {agreed.min_cosine:.4f} < 0.9"]
    constant = np.full((10, 1), 0.3)  # a float32 0.3 against a float64 one agrees; 0.4 does not
    assert agreement(constant.astype(np.float32), constant, classifier=True).min_cosine == 1.0
    assert agreement(constant + 0.1, constant, classifier=True).min_cosine == 0.0


def test_self_check_needs_golden_json_listed_with_its_sha256(bundle_copy, capsys):
    """Left out of `files`, golden.json went unchecked: cut to one probe, the self-check passed."""
    manifest, golden = bundle_copy / "bundle.json", bundle_copy / "golden.json"
    raw = json.loads(manifest.read_text())
    del raw["files"]["golden.json"]
    manifest.write_text(json.dumps(raw))
    data = json.loads(golden.read_text())
    golden.write_text(json.dumps({**data, "probes": data["probes"][:1]}))
    with pytest.raises(BundleError, match=r"golden\.json is not listed in files with its sha256"):
        Bundle.load(bundle_copy).self_check()
    assert runtime_main([str(bundle_copy), "--self-check"]) == 2
    assert "golden.json is not listed" in capsys.readouterr().err


def test_self_check_fails_when_the_tokenizer_gives_other_ids(bundle_copy):
    """The token ids are checked exactly: two pieces of tokenizer.json swapped (its sha256 mended, as a tool that
    rewrites a tokenizer would leave it) fail the self-check by name."""
    from runtime_py.manifest import sha256

    path = bundle_copy / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    golden = json.loads((bundle_copy / "golden.json").read_text())["probes"]
    vocab = tokenizer["model"]["vocab"]
    used = {i for p in golden for i in p["input_ids"]} - {vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]")}
    first, second = (piece for piece, i in vocab.items() if i in sorted(used)[:2])
    vocab[first], vocab[second] = vocab[second], vocab[first]
    path.write_text(json.dumps(tokenizer), encoding="utf-8")
    manifest = bundle_copy / "bundle.json"
    raw = json.loads(manifest.read_text())
    raw["files"]["tokenizer.json"] = sha256(path)
    manifest.write_text(json.dumps(raw))
    check = Bundle.load(bundle_copy).self_check()
    assert not check.passed and check.failures[0].startswith("token ids differ from golden.json")
    assert len(check.token_id_mismatches) >= 1


def test_a_classifier_is_held_to_its_decided_probes_and_a_flipped_one_fails_top1():
    """decided_rows: top-two probabilities at least 0.5 apart (3 vs -3: 0.998 / 0.002; 0.1 vs 0: 0.525 / 0.475).
    An undecided row is left out of the cosine and the agreement, whichever way it turns; a decided one that
    flips fails top-1 by name."""
    from runtime_py.parity import decided_rows

    reference = np.array([[3.0, -3.0], [0.1, 0.0], [-3.0, 3.0]])
    assert decided_rows(reference).tolist() == [True, False, True]
    undecided_flips = agreement(np.array([[3.0, -3.0], [0.0, 0.1], [-3.0, 3.0]]), reference, classifier=True)
    assert undecided_flips.undecided == 1 and undecided_flips.top1_agreement == 1.0
    assert undecided_flips.failures(0.99, 1.0) == []
    decided_flips = agreement(np.array([[-3.0, 3.0], [0.1, 0.0], [-3.0, 3.0]]), reference, classifier=True)
    assert decided_flips.top1_agreement == 0.5
    assert decided_flips.failures(-2.0, 1.0) == ["top-1 agreement 0.500 < 1.0"]
    assert decided_rows(np.array([[0.1, 0.0], [0.0, 0.1]])).tolist() == [True, True]  # none decided: all kept


def test_self_check_fails_when_the_golden_outputs_do_not_match(bundle_copy):
    golden = bundle_copy / "golden.json"
    data = json.loads(golden.read_text())
    for probe in data["probes"]:
        probe["reference"] = [-v for v in probe["reference"]]
    golden.write_text(json.dumps(data))
    check = Bundle.load(bundle_copy, verify=False).self_check()
    assert not check.passed and check.min_cosine < -0.9
    assert runtime_main([str(bundle_copy), "--self-check"]) == 2  # golden.json no longer matches its sha256


def minilm_bundle_similarity(folder: Path, a: str, b: str) -> float:
    return Bundle.load(folder).similarity(a, b)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["entailment", "neutral", "contradiction"], 0),  # MNLI: the last label was contradiction
        (["entailment", "not_entailment"], 0),  # RTE, QNLI: not_entailment is not entailment
        (["not_duplicate", "duplicate"], 1),  # QQP
        (["not_equivalent", "Equivalent"], 1),  # MRPC, written in capitals
        (["LABEL_0", "LABEL_1"], 1),  # a binary cross-encoder: 1 is relevant
        (["0", "1"], 1),
        (["contradiction", "entailment"], 1),
    ],
)
def test_a_pair_classifier_scores_by_the_label_that_says_the_texts_go_together(labels, expected):
    from runtime_py.bundle import scored_label

    assert scored_label(labels) == expected
    assert scored_label(labels, labels[-1]) == len(labels) - 1


def test_a_pair_classifier_of_three_unnamed_labels_has_no_default_score():
    from runtime_py.bundle import scored_label

    with pytest.raises(ValueError, match=r"3 labels .* and none says .* name the one to score by"):
        scored_label(["LABEL_0", "LABEL_1", "LABEL_2"])
    with pytest.raises(ValueError, match=r"3 labels .* and more than one says"):
        scored_label(["entailment", "Duplicate", "other"])
    with pytest.raises(ValueError, match="label 'x' is not one of this bundle's: a, b"):
        scored_label(["a", "b"], "x")


def test_cli(minilm_bundle, sst2_bundle, bundle_copy, capsys):
    assert runtime_main([str(sst2_bundle[0]), "A wonderful film."]) == 0
    assert capsys.readouterr().out.startswith("positive\t")
    assert runtime_main([str(minilm_bundle[0]), "--self-check"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert runtime_main([str(minilm_bundle[0]), "a cat", "a kitten"]) == 0
    matrix = capsys.readouterr().out.split("cosine similarity:")[1]
    similar = minilm_bundle_similarity(minilm_bundle[0], "a cat", "a kitten")
    assert [float(n) for n in re.findall(r"-?\d+\.\d*", matrix)] == pytest.approx([1, similar, similar, 1], abs=1e-4)
    assert runtime_main([str(minilm_bundle[0]), "--bench", "--lengths", "16", "128", "--runs", "5"]) == 0
    out = capsys.readouterr().out
    assert "| 16 |" in out and "| 128 |" in out and "peak RSS" in out
    for flags in (["--bench", "--runs", "0"], ["hello", "--threads", "-1"], ["--bench", "--lengths", "x"],
                  ["hello", "--threads", "100000"], ["--bench", "--runs", "99999999999999999999"]):
        with pytest.raises(SystemExit) as exit_info:
            runtime_main([str(minilm_bundle[0]), *flags])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and err[0].startswith("error: argument"), (flags, err)
    for flags, expected in ((["caf\udce9"], "error: text 1 is not valid UTF-8"),
                            (["--bench", "--lengths", "1"], "error: sequence length must be between 2"),
                            (["hello", "--lengths", "5"], "error: --lengths and --runs go with --bench"),  # ignored
                            (["hello", "--runs", "5"], "error: --lengths and --runs go with --bench"),
                            (["a", "--query", " "], "error: --query is empty"),  # an unset shell variable
                            (["--self-check", "--probes", "100"], "error: golden.json holds 12 probes")):
        assert runtime_main([str(bundle_copy), *flags]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(expected) and not captured.out, (flags, captured)
    (bundle_copy / "model.ort").unlink()
    assert runtime_main([str(bundle_copy), "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: bundle file missing")


@pytest.mark.skipif("cpu family" not in (Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""),
                    reason="an x86 Linux /proc/cpuinfo")  # fmt: skip
def test_the_cpu_is_named_as_lscpu_tells_it_apart():
    """One model name ("AMD EPYC") covers CPUs with and without AVX-512 VNNI, whose int8 kernels round differently
    (the same bundle scored 0.8624 and 0.8612 on the two EPYCs): figures name the family, model and int8 set."""
    import re

    from runtime_py.machine import INT8_INSTRUCTIONS, cpu_name

    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    widest = next((f for f in INT8_INSTRUCTIONS if f in flags), None)
    assert re.fullmatch(r".+ \(family \d+, model \d+" + (f"; {widest}" if widest else "") + r"\)", cpu_name())


def test_an_arm64_cpu_is_named_by_its_part_and_dot_product_instructions():
    """arm64's /proc/cpuinfo has no model name (it was named ''): its implementer, part and int8 instructions."""
    from runtime_py.machine import cpu_name

    block = ("processor\t: {n}\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd aes crc32 atomics asimdrdm lrcpc dcpop "
             "asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd0c\n")  # fmt: skip
    named = cpu_name(block.format(n=0) + "\n" + block.format(n=1))
    details = " (implementer 0x41, part 0xd0c; asimddp)"
    assert named.endswith(details) and named[: -len(details)].strip()  # a name before them (it was "")


def test_bench_lengths_default_to_what_the_bundle_reads():
    # a bundle of a checkpoint that reads 64 tokens refused the default 128 (export/load.py tokens_read)
    assert default_lengths(256) == [16, 128] and default_lengths(64) == [16, 64] and default_lengths(8) == [8]


def test_output_piped_into_a_reader_that_leaves_ends_quietly(tiny_bundle):
    """`python -m runtime_py B texts | head`: the closed pipe ends the run as a shell tool ends (128 + SIGPIPE),
    with no BrokenPipeError traceback (there was one on every command that prints)."""
    import os

    for flags in (["a cat", "a dog"], ["--self-check"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has left before the first line
        result = subprocess.run([sys.executable, "-m", "runtime_py", str(tiny_bundle[0]), *flags], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        os.close(write_end)
        assert (result.returncode, result.stderr) == (141, ""), flags


def test_the_bench_text_is_as_long_as_any_length_asked():
    """A fixed filler of 1,802 MiniLM tokens cut a longer --lengths row short and still labelled it as asked: the
    text now grows with the length (more words than tokens asked, and every word is at least one token)."""
    from runtime_py.bench import filler

    for tokens in (2, 9, 10, 128, 5000):
        assert len(filler(tokens).split()) > tokens


def test_a_library_errors_first_line_goes_on_when_it_ends_in_a_colon():
    """torch's "Error(s) in loading state_dict for Embedding:" said nothing of what failed; the line after it does."""
    from runtime_py.messages import first_line

    torch_says = RuntimeError("Error(s) in loading state_dict for Embedding:\n\tsize mismatch for weight: copying a "
                              "param with shape [10, 4]\n\tmore")  # fmt: skip
    assert first_line(torch_says) == ("Error(s) in loading state_dict for Embedding: size mismatch for weight: "
                                      "copying a param with shape [10, 4]")  # fmt: skip
    assert first_line(ValueError("one line\nsecond")) == "one line" and first_line(ValueError("")) == "ValueError"
