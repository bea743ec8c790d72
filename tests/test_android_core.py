"""The Android demo's plain-Java core on the desktop JVM: its JUnit tests, and its outputs against the Python
tokenizer and runtime_py.

Compiled with javac from android_demo/core/src against ONNX Runtime's Java API, which
android_demo/tools/build_ort_java.sh builds from source and links to the onnxruntime wheel's own library (no
Maven here), with Debian's JUnit 4 jar for the tests under core/src/test/java (what `./gradlew test` runs), on
bundles the exporter made in this run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SST2_DIR, STSB_DIR
from transformers import AutoTokenizer

from export.datasets import read_examples
from export.probes import PAIR_PROBES, PROBE_TEXTS
from runtime_py.bundle import Bundle
from runtime_py.manifest import BundleError
from runtime_py.parity import agreement

CORE = ROOT / "android_demo" / "core" / "src"
BUILD_ORT_JAVA = ROOT / "android_demo" / "tools" / "build_ort_java.sh"
GRADLE = ROOT / "android_demo"
# ONNX Runtime 1.29.0 as released: its linux-x64 library and its Android AAR, both in one npm package (npm is
# reachable from CI, Maven is not). The app pins this release; the tests run our bundles on its runtime and
# compile the core against the AAR's own Java classes.
ORT_1_29 = {
    "version": "1.29.0",
    "url": "https://registry.npmjs.org/com.github.asus4.onnxruntime/-/com.github.asus4.onnxruntime-0.4.9.tgz",
    "files": {
        "package/Plugins/Linux/x64/libonnxruntime.so": (
            "5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca"
        ),
        "package/Plugins/Android/onnxruntime.aar": "98cddbac92640b4a6af72a03c42e0491851f366d3da66bbaeb5dd66310946cf2",
    },
}
# Debian's junit4 package (.ci/run installs it): JUnit 4.13 and the hamcrest it needs.
JUNIT = [Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar")]
HARD_CASES = [
    "Café crème brûlée à la française, naïve façade. ÀÉÎÕÜ ñ ß ø å",
    "İstanbul ΣΑΣ Ωμέγα ﬁnancial ｆｕｌｌｗｉｄｔｈ",
    "emoji 🎉👍🏽 family 👨‍👩‍👧 flags 🇫🇷 and ❤️",
    "我们明天去北京参观博物馆。日本語のテキスト、한국어 텍스트",
    "pneumonoultramicroscopicsilicovolcanoconiosis " + "x" * 150,
    "   runs\t\tof \n\n whitespace\u00a0\u2003and\u200bzero-width\u0000nul\ufffdreplacement   ",
    "punctuation!!! ...and --- (brackets) [SEP] «quotes» „low“ ¿qué? ¡sí! 100% $5 a+b=c ~tilde~ `tick`",
    "special tokens written out: [CLS] [SEP] [MASK] [PAD] [UNK] [unused1]",
    "unassigned \u0378 code points and emoji newer than the JVM's tables 🫶 🫠 stay words",
    "",
    " ",
]


def build_ort_java(out: Path, library: Path | None = None) -> Path:
    subprocess.run([str(BUILD_ORT_JAVA), str(out), *([str(library)] if library else [])], check=True)
    return out


@pytest.fixture(scope="module")
def ort_java():
    """ai.onnxruntime classes and JNI library, on the runtime the Python side runs (the wheel's)."""
    if shutil.which("javac") is None:
        pytest.fail("javac not found: .ci/run installs a JDK (default-jdk-headless)")
    return build_ort_java(ROOT / "build" / "ort-java" / "wheel")


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory, ort_java):
    out = tmp_path_factory.mktemp("java")
    javac(out, ort_java / "classes", CORE / "main", "--release", "8")  # the language level Android's toolchain takes
    missing = [str(jar) for jar in JUNIT if not jar.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: .ci/run installs Debian's junit4 package")
    javac(out, ":".join([str(out), str(ort_java / "classes"), *map(str, JUNIT)]), CORE / "test")
    return out


def javac(out: Path, classpath: str | Path, sources: Path, *flags: str) -> None:
    files = [str(p) for p in sources.rglob("*.java")]
    subprocess.run(["javac", *flags, "-encoding", "UTF-8", "-cp", str(classpath), "-d", str(out), *files], check=True)


def java(
    classes: Path, ort: Path | None, main: str, *args: str, jars: tuple[Path, ...] = (), **properties: str
) -> subprocess.CompletedProcess:
    """Run a class from android_demo/core/src/test (or `main` given in full, such as JUnit's runner); ort: the ORT
    Java build, for classes that run a model; properties: -Dname=value system properties."""
    native = [f"-Donnxruntime.native.path={ort / 'native'}"] if ort else []
    defined = [f"-D{name}={value}" for name, value in properties.items()]
    classpath = ":".join([*([str(ort / "classes")] if ort else []), str(classes), *map(str, jars)])
    main = main if "." in main else f"org.bertedge.core.{main}"
    command = ["java", *native, *defined, "-cp", classpath, main, *args]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8")


def test_the_junit_tests_pass(
    java_classes, ort_java, minilm_bundle, sst2_bundle, cross_bundle, sst2_pruned_bundle, sst2_rest_bundle
):
    """core/src/test/java's JUnit classes, on the embedder, classifier and pair-model bundles of this run, on a
    bundle whose vocabulary --vocab pruned (read unchanged: contiguous ids in its tokenizer.json) and on one whose
    other rows --vocab-rest keeps as codes (its graph maps ids to rows); every @Test runs."""
    sources = sorted((CORE / "test").rglob("*Test.java"))
    expected = sum(source.read_text().count("@Test") for source in sources)
    shipped = (minilm_bundle, sst2_bundle, cross_bundle, sst2_pruned_bundle, sst2_rest_bundle)
    bundles = ":".join(str(b[0]) for b in shipped)
    tests = [f"org.bertedge.core.{s.stem}" for s in sources]
    properties = {"bertedge.bundles": bundles}
    result = java(java_classes, ort_java, "org.junit.runner.JUnitCore", *tests, jars=tuple(JUNIT), **properties)
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(sources) >= 6 and f"OK ({expected} tests)" in result.stdout


def java_token_ids(classes, tokenizer_json, max_length: int, items: list, tmp_path) -> list:
    """Ids per text; (ids, token types) per [text, text_pair] item."""
    lines = write_lines(tmp_path / "texts.jsonl", items)
    result = java(classes, None, "TokenizeLines", str(tokenizer_json), str(max_length), str(lines))
    assert result.returncode == 0, result.stderr

    def parse(line: str):
        parts = [[int(i) for i in part.split()] for part in line.split(";")]
        return parts[0] if len(parts) == 1 else tuple(parts)

    return [parse(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("bundle", ["minilm_bundle", "sst2_pruned_bundle"])
def test_java_tokenizer_gives_the_python_ids(request, java_classes, bundle, tmp_path):
    """On the default vocabulary and on one --vocab pruned to SST-2's training sentences, where the dev texts,
    STS-B's and the hard cases spell many words from the fallback alphabet."""
    folder = request.getfixturevalue(bundle)[0]
    max_length = json.loads((folder / "bundle.json").read_text())["max_length"]
    stsb = read_examples(STSB_DIR)
    texts = read_examples(SST2_DIR).texts + stsb.texts + stsb.text_pairs + list(PROBE_TEXTS) + HARD_CASES
    expected = AutoTokenizer.from_pretrained(folder)(texts, truncation=True, max_length=max_length)["input_ids"]
    got = java_token_ids(java_classes, folder / "tokenizer.json", max_length, texts, tmp_path)
    mismatches = [(t, e, g) for t, e, g in zip(texts, expected, got, strict=True) if e != g]
    assert len(got) == len(texts) == 872 + 3000 + len(PROBE_TEXTS) + len(HARD_CASES)
    assert mismatches == []


def test_java_tokenizer_gives_the_python_ids_and_types_of_pairs(java_classes, cross_bundle, tmp_path):
    """STS-B's 1,500 dev pairs, the pair probes, and hard cases paired with each other; at the bundle's max length
    and at 24 tokens, where most pairs are cut longest-first."""
    folder = cross_bundle[0]
    stsb = read_examples(STSB_DIR)
    pairs = list(zip(stsb.texts, stsb.text_pairs, strict=True)) + list(PAIR_PROBES)
    pairs += list(zip(HARD_CASES, reversed(HARD_CASES), strict=True))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for max_length in (256, 24):
        encoded = tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=True, max_length=max_length)
        expected = list(zip(encoded["input_ids"], encoded["token_type_ids"], strict=True))
        got = java_token_ids(java_classes, folder / "tokenizer.json", max_length, [list(p) for p in pairs], tmp_path)
        assert len(got) == len(pairs) == 1500 + len(PAIR_PROBES) + len(HARD_CASES)
        assert [(p, e, g) for p, e, g in zip(pairs, expected, got, strict=True) if tuple(e) != g] == []


def test_java_tokenizer_truncates_to_the_bundle_max_length(java_classes, minilm_bundle, tmp_path):
    ids = java_token_ids(java_classes, minilm_bundle[0] / "tokenizer.json", 8, ["one two three four five six seven"],
                         tmp_path)[0]  # fmt: skip
    assert len(ids) == 8 and ids[0] == 101 and ids[-1] == 102


def inspect(classes, folder) -> subprocess.CompletedProcess:
    return java(classes, None, "InspectBundle", str(folder))


@pytest.mark.parametrize("bundle", ["minilm_bundle", "sst2_bundle", "cross_bundle"])
def test_java_manifest_and_parity_agree_with_runtime_py(request, java_classes, bundle):
    folder = request.getfixturevalue(bundle)[0]
    result = inspect(java_classes, folder)
    assert result.returncode == 0, result.stderr
    java = json.loads(result.stdout)
    manifest = json.loads((folder / "bundle.json").read_text())
    probes = json.loads((folder / "golden.json").read_text())["probes"]
    outputs = np.array([p["bundle"] for p in probes], dtype=np.float32)
    python = agreement(outputs, np.array([p["reference"] for p in probes]), manifest["task"] != "feature-extraction")
    assert (java["task"], java["max_length"], java["inputs"]) == (manifest["task"], 256, 3)
    assert java["min_cosine"] == pytest.approx(python.min_cosine, abs=1e-9)
    assert java["max_abs_diff"] == pytest.approx(python.max_abs_diff, abs=1e-7)
    assert java["top1_agreement"] == python.top1_agreement and java["undecided"] == python.undecided


def test_java_manifest_refuses_a_corrupt_bundle(java_classes, tiny_bundle, tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(tiny_bundle[0], folder)
    model = folder / "model.ort"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    result = inspect(java_classes, folder)
    assert result.returncode == 2
    assert result.stderr.startswith("error: bundle file corrupt") and "model.ort" in result.stderr


# --- the runner on ai.onnxruntime -------------------------------------------------------------------------------

SEARCH_SENTENCES = [
    "A man is playing a guitar.",
    "The cat sleeps on the warm windowsill.",
    "Stock markets fell sharply on Monday.",
    "She is cooking pasta in the kitchen.",
    "The football match ended in a draw.",
    "A child is riding a bicycle down the street.",
]


def write_lines(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    return path


def java_answers(classes, ort, folder, texts, tmp_path, sentences=()) -> list[dict]:
    args = [str(folder), str(write_lines(tmp_path / "texts.jsonl", texts))]
    if sentences:
        args.append(str(write_lines(tmp_path / "sentences.jsonl", list(sentences))))
    result = java(classes, ort, "RunBundle", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def java_self_check(classes, ort, folder) -> tuple[int, dict]:
    result = java(classes, ort, "RunBundle", str(folder), "--self-check")
    return result.returncode, (json.loads(result.stdout) if result.stdout else {"stderr": result.stderr})


def parity_failures(java_outputs: np.ndarray, python_outputs: np.ndarray, folder: Path) -> list[str]:
    """The Java outputs against runtime_py's, by the bundle's own tolerance, plus a 1e-5 bound on any value:
    both sides run the same ORT library, so only float printing may differ."""
    manifest = json.loads((folder / "bundle.json").read_text())
    agreed = agreement(java_outputs, python_outputs.astype(np.float64), manifest["task"] != "feature-extraction")
    failures = agreed.failures(manifest["tolerance"]["min_cosine"], manifest["tolerance"]["min_top1_agreement"])
    if agreed.max_abs_diff > 1e-5:
        failures.append(f"max abs diff {agreed.max_abs_diff:.2e} > 1e-5")
    return failures


def dev_texts(count: int) -> list[str]:
    return read_examples(SST2_DIR).texts[:count] + HARD_CASES


@pytest.mark.parametrize("bundle", ["minilm_bundle", "sst2_bundle", "cross_bundle", "tiny_int4_bundle"])
def test_java_golden_self_check_passes(request, java_classes, ort_java, bundle):
    """tiny_int4_bundle: a bundle with load-time weights (weights.ort), which EdgeModel runs once and passes to
    every call."""
    folder = request.getfixturevalue(bundle)[0]
    code, check = java_self_check(java_classes, ort_java, folder)
    python = Bundle.load(folder).self_check()
    assert code == 0 and check["passed"] and check["failures"] == [] and check["probes"] == python.probes
    assert check["max_abs_diff_vs_export"] < 1e-6  # golden.json stores outputs rounded to 1e-7 or so
    assert check["min_cosine"] == pytest.approx(python.min_cosine, abs=1e-6)


def test_java_classifier_matches_runtime_py(java_classes, ort_java, sst2_bundle, tmp_path):
    folder = sst2_bundle[0]
    texts = dev_texts(200)
    answers = java_answers(java_classes, ort_java, folder, texts, tmp_path)
    runtime = Bundle.load(folder)
    assert parity_failures(np.array([a["output"] for a in answers]), runtime.outputs(texts), folder) == []
    for answer, prediction in zip(answers, runtime.classify(texts), strict=True):
        label, percent = re.fullmatch(r"(\S+) \((\d+\.\d)%\)", answer["headline"]).groups()
        assert label == prediction.label and float(percent) == pytest.approx(100 * prediction.probability, abs=0.051)


def test_java_embedder_search_matches_runtime_py(java_classes, ort_java, minilm_bundle, tmp_path):
    folder = minilm_bundle[0]
    queries = ["Someone plays an instrument.", "a kitten napping in the sun", "Shares dropped early in the week."]
    answers = java_answers(java_classes, ort_java, folder, queries + HARD_CASES, tmp_path, SEARCH_SENTENCES)
    runtime = Bundle.load(folder)
    java_outputs = np.array([a["output"] for a in answers])
    assert parity_failures(java_outputs, runtime.outputs(queries + HARD_CASES), folder) == []
    corpus = runtime.embed(SEARCH_SENTENCES)
    corpus /= np.linalg.norm(corpus, axis=-1, keepdims=True)
    for query, answer, expected in zip(queries, answers, ([0], [1], [2]), strict=False):
        hits = runtime.search(query, corpus, k=3)
        assert [h.index for h in hits][:1] == expected  # the obvious neighbour, found by both
        assert answer["lines"] == [f"{h.score:.3f}  {SEARCH_SENTENCES[h.index]}" for h in hits]


def test_java_pair_model_matches_runtime_py_and_reranks_alike(java_classes, ort_java, cross_bundle, tmp_path):
    """The STS-B cross-encoder on 200 dev pairs and the pair probes, and the Demo screen's reranking."""
    folder = cross_bundle[0]
    stsb = read_examples(STSB_DIR)
    pairs = list(zip(stsb.texts[:200], stsb.text_pairs[:200], strict=True)) + list(PAIR_PROBES)
    answers = java_answers(java_classes, ort_java, folder, [list(p) for p in pairs], tmp_path)
    runtime = Bundle.load(folder)
    assert parity_failures(np.array([a["output"] for a in answers]), runtime.outputs(pairs), folder) == []
    query = "A man is playing a guitar."
    [answer] = java_answers(java_classes, ort_java, folder, [query], tmp_path, SEARCH_SENTENCES)
    hits = runtime.rerank(query, SEARCH_SENTENCES, k=3)
    assert hits[0].index == 0  # the same sentence: the obvious best match, found by both
    assert answer["lines"] == [f"{h.score:.3f}  {SEARCH_SENTENCES[h.index]}" for h in hits]


def rewrite_file(folder: Path, name: str, content: bytes) -> None:
    """Replace a bundle file and update its sha256 in bundle.json, so only the content is wrong."""
    (folder / name).write_bytes(content)
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["files"][name] = hashlib.sha256(content).hexdigest()
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=2))


def test_java_parity_checks_fail_when_the_tokenizer_breaks(java_classes, ort_java, sst2_bundle, tmp_path):
    """Swap two common tokens in the bundle's vocabulary: the Java side now feeds the model other ids. Both the
    golden self-check and the comparison with runtime_py (on the intact bundle) must catch it."""
    broken = tmp_path / "broken"
    shutil.copytree(sst2_bundle[0], broken)
    tokenizer = json.loads((broken / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tokenizer["model"]["vocab"]
    vocab["the"], vocab["film"] = vocab["film"], vocab["the"]
    rewrite_file(broken, "tokenizer.json", json.dumps(tokenizer, ensure_ascii=False).encode("utf-8"))
    code, check = java_self_check(java_classes, ort_java, broken)
    assert code == 1 and not check["passed"]
    assert check["failures"][0].startswith("token ids differ from golden.json")
    texts = dev_texts(200)
    answers = java_answers(java_classes, ort_java, broken, texts, tmp_path)
    failures = parity_failures(np.array([a["output"] for a in answers]), Bundle.load(sst2_bundle[0]).outputs(texts),
                               sst2_bundle[0])  # fmt: skip
    assert any(f.startswith("min cosine") for f in failures), failures


def test_java_self_check_fails_on_a_falsified_golden(java_classes, ort_java, minilm_bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(minilm_bundle[0], broken)
    golden = json.loads((broken / "golden.json").read_text())
    golden["probes"][3]["reference"] = [-v for v in golden["probes"][3]["reference"]]
    rewrite_file(broken, "golden.json", json.dumps(golden).encode())
    code, check = java_self_check(java_classes, ort_java, broken)
    assert code == 1 and check["min_cosine"] < -0.9
    required = json.loads((broken / "bundle.json").read_text())["tolerance"]["min_cosine"]  # 0.95: lighttoken
    assert check["failures"] == [f"min cosine {check['min_cosine']:.4f} < {required}"]


def test_java_runner_refuses_a_corrupt_bundle(java_classes, ort_java, tiny_bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle[0], broken)
    (broken / "model.ort").write_bytes(b"not a model")
    result = java(java_classes, ort_java, "RunBundle", str(broken), "--self-check")
    assert result.returncode == 2 and "bundle file corrupt" in result.stderr and "model.ort" in result.stderr
    rewrite_file(broken, "model.ort", b"not a model")  # a matching sha256: now onnxruntime itself refuses it
    result = java(java_classes, ort_java, "RunBundle", str(broken), "--self-check")
    assert result.returncode == 2 and result.stderr.startswith("error: onnxruntime cannot load")


def malformed_golden(folder: Path) -> str:
    golden = json.loads((folder / "golden.json").read_text())
    del golden["probes"][0]["reference"]
    return json.dumps(golden)


def golden_of_another_width(folder: Path) -> str:
    golden = json.loads((folder / "golden.json").read_text())
    for probe in golden["probes"]:
        probe["reference"] = probe["bundle"] = probe["reference"][:-1]
    return json.dumps(golden)


def tokenizer_without_normalizer(folder: Path) -> str:
    return json.dumps({**json.loads((folder / "tokenizer.json").read_text()), "normalizer": None})


def tokenizer_with_another_normalizer(folder: Path) -> str:
    """A WordPiece model behind a Sequence normalizer: its flags read as all false (no lowercasing) until refused."""
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    sequence = {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}
    return json.dumps({**tokenizer, "normalizer": sequence})


@pytest.mark.parametrize(("name", "rewrite", "expected"), [
    ("golden.json", malformed_golden, "error: golden.json is not a list of probes with their token ids and outputs"),
    ("golden.json", golden_of_another_width, "error: golden.json's outputs hold 31 values a probe; the model gives 32"),
    ("tokenizer.json", tokenizer_without_normalizer, "error: cannot load the tokenizer tokenizer.json"),
    ("tokenizer.json", tokenizer_with_another_normalizer,
     "error: cannot load the tokenizer tokenizer.json: java.lang.IllegalArgumentException: tokenizer.json: normalizer "
     "type Sequence, not BertNormalizer"),
])  # fmt: skip
def test_java_runner_refuses_malformed_files_in_one_line(java_classes, ort_java, tiny_bundle, tmp_path, name, rewrite,
                                                          expected):  # fmt: skip
    """Each ended in a raw exception (NullPointerException, ArrayIndexOutOfBoundsException) and its trace."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle[0], broken)
    rewrite_file(broken, name, rewrite(broken).encode())
    result = java(java_classes, ort_java, "RunBundle", str(broken), "--self-check")
    assert result.returncode == 2 and result.stderr.startswith(expected), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_java_runner_needs_golden_json_listed_and_names_a_broken_weights_file(java_classes, ort_java,
                                                                             tiny_int4_bundle, tmp_path):  # fmt: skip
    """As runtime_py: golden.json left out of `files` went unchecked (cut down, it passed); a weights.ort
    onnxruntime refuses was reported as model.ort."""
    unlisted = tmp_path / "unlisted"
    shutil.copytree(tiny_int4_bundle[0], unlisted)
    manifest = json.loads((unlisted / "bundle.json").read_text())
    del manifest["files"]["golden.json"]
    (unlisted / "bundle.json").write_text(json.dumps(manifest))
    result = java(java_classes, ort_java, "RunBundle", str(unlisted), "--self-check")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: bundle.json: golden.json is not listed in files with its sha256"
    broken = tmp_path / "broken"
    shutil.copytree(tiny_int4_bundle[0], broken)
    rewrite_file(broken, "weights.ort", b"not a model")
    result = java(java_classes, ort_java, "RunBundle", str(broken), "--self-check")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: onnxruntime cannot load {broken / 'weights.ort'}"), result.stderr


def test_java_runner_refuses_labels_that_do_not_match_the_outputs(java_classes, ort_java, sst2_bundle, tmp_path):
    """As runtime_py does at load (bundle.json is not among the files it hashes, so no rewrite is needed)."""
    broken = tmp_path / "broken"
    shutil.copytree(sst2_bundle[0], broken)
    manifest = broken / "bundle.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "labels": ["only"]}))
    result = java(java_classes, ort_java, "RunBundle", str(broken), "--self-check")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: bundle.json names 1 labels for a model with 2 outputs"



def test_java_runner_refuses_inputs_the_model_does_not_take(java_classes, ort_java, tiny_bundle, tmp_path):
    """As runtime_py does at load: a model input bundle.json leaves out failed at the first call (one it adds
    too, where runtime_py fed only what the model takes)."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle[0], broken)
    manifest = broken / "bundle.json"
    written = json.loads(manifest.read_text())
    written["model"]["inputs"] = [i for i in written["model"]["inputs"] if i["name"] != "token_type_ids"]
    manifest.write_text(json.dumps(written))
    result = java(java_classes, ort_java, "RunBundle", str(broken), "--self-check")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("error: bundle.json lists the model inputs input_ids, attention_mask; the model "
                                     "takes input_ids, attention_mask, token_type_ids")  # fmt: skip
    with pytest.raises(BundleError, match=r"; the model takes input_ids, attention_mask, token_type_ids$"):
        Bundle.load(broken)


# --- the ONNX Runtime release the app pins ----------------------------------------------------------------------


def pinned_android_ort_version() -> str:
    """gradle.properties' ortVersion, which both modules' onnxruntime dependencies read (and nothing else pins)."""
    pins = [GRADLE / "app" / "build.gradle", GRADLE / "core" / "build.gradle"]
    assert all(re.findall(r'"com\.microsoft\.onnxruntime:onnxruntime(?:-android)?:\$\{ortVersion\}"', p.read_text())
               for p in pins)  # fmt: skip
    assert not [p for p in pins if re.search(r"onnxruntime(?:-android)?:[0-9]", p.read_text())]
    return re.search(r"^ortVersion=([0-9.]+)$", (GRADLE / "gradle.properties").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def ort_1_29():
    """ONNX Runtime 1.29.0's released files (downloaded once into build/ort-java/1.29.0): name → path."""
    folder = ROOT / "build" / "ort-java" / "1.29.0"
    paths = {member: folder / Path(member).name for member in ORT_1_29["files"]}
    if not all(_sha256(paths[m]) == digest for m, digest in ORT_1_29["files"].items()):
        folder.mkdir(parents=True, exist_ok=True)
        with (
            urllib.request.urlopen(ORT_1_29["url"], timeout=300) as response,
            tarfile.open(fileobj=response, mode="r|gz") as archive,
        ):
            for member in archive:
                if member.name in paths:
                    paths[member.name].write_bytes(archive.extractfile(member).read())
        assert all(_sha256(paths[m]) == digest for m, digest in ORT_1_29["files"].items())
    return {Path(m).name: p for m, p in paths.items()}


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@pytest.fixture(scope="module")
def ort_java_1_29(ort_1_29):
    """The Java API linked to ONNX Runtime 1.29.0's own library."""
    return build_ort_java(ROOT / "build" / "ort-java" / "1.29.0-java", ort_1_29["libonnxruntime.so"])


def test_the_core_compiles_against_the_pinned_android_classes(ort_1_29, tmp_path):
    """The app's ai.onnxruntime classes come from the onnxruntime-android AAR, not from the source build."""
    with zipfile.ZipFile(ort_1_29["onnxruntime.aar"]) as aar:
        (tmp_path / "classes.jar").write_bytes(aar.read("classes.jar"))
    javac(tmp_path / "out", tmp_path / "classes.jar", CORE / "main")
    assert (tmp_path / "out" / "org" / "bertedge" / "core" / "EdgeModel.class").is_file()


@pytest.mark.parametrize("bundle", ["minilm_bundle", "sst2_bundle", "tiny_int4_bundle"])
def test_the_pinned_android_runtime_reads_our_bundles(request, java_classes, ort_java_1_29, bundle):
    """The app pins onnxruntime-android 1.29.0; its runtime (the same release, built for linux-x64) loads the
    .ort our converter (1.32.0) wrote and passes the golden self-check (tiny_int4_bundle: weights.ort too)."""
    assert pinned_android_ort_version() == ORT_1_29["version"]
    code, check = java_self_check(java_classes, ort_java_1_29, request.getfixturevalue(bundle)[0])
    assert code == 0 and check["passed"], check


def test_apk_size_counts_every_shipped_file(minilm_bundle):
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("apk_size", ROOT / "android_demo" / "tools" / "apk_size.py")
    apk_size = module_from_spec(spec)
    spec.loader.exec_module(apk_size)
    folder = minilm_bundle[0]
    rows = {name: (raw, packed) for name, raw, packed in apk_size.sizes(folder)}
    listed = json.loads((folder / "bundle.json").read_text())["files"]
    assert set(rows) == {"bundle.json", *listed}  # what copyBundle ships; report.* stays behind
    assert all(raw == (folder / name).stat().st_size for name, (raw, _) in rows.items())
    raw, packed = rows["model.ort"]
    assert 0.5 * raw < packed < raw  # int8 weights deflate a little, not a lot
    assert apk_size.main([str(folder.parent)]) == 2
