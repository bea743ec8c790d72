"""The Android demo's plain-Java core on the desktop JVM, against the Python tokenizer and runtime_py.

Compiled with javac from android_demo/core/src (no Gradle, no jars: it has no dependencies) and run on bundles
the exporter made in this run.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import ROOT, SST2_DIR, STSB_DIR
from transformers import AutoTokenizer

from export.datasets import load_set
from export.probes import PROBE_TEXTS
from runtime_py.parity import agreement

CORE = ROOT / "android_demo" / "core" / "src"
HARD_CASES = [
    "Café crème brûlée à la française, naïve façade. ÀÉÎÕÜ ñ ß ø å",
    "İstanbul ΣΑΣ Ωμέγα ﬁnancial ｆｕｌｌｗｉｄｔｈ",
    "emoji 🎉👍🏽 family 👨‍👩‍👧 flags 🇫🇷 and ❤️",
    "我们明天去北京参观博物馆。日本語のテキスト、한국어 텍스트",
    "pneumonoultramicroscopicsilicovolcanoconiosis " + "x" * 150,
    "   runs\t\tof \n\n whitespace\u00a0\u2003and\u200bzero-width\u0000nul\ufffdreplacement   ",
    "punctuation!!! ...and --- (brackets) [SEP] «quotes» „low“ ¿qué? ¡sí! 100% $5 a+b=c ~tilde~ `tick`",
    "special tokens written out: [CLS] [SEP] [MASK] [PAD] [UNK] [unused1]",
    "",
    " ",
]


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory):
    if shutil.which("javac") is None:
        pytest.fail("javac not found: .ci/run installs a JDK (default-jdk-headless)")
    out = tmp_path_factory.mktemp("java")
    sources = [str(p) for p in CORE.rglob("*.java")]
    subprocess.run(["javac", "-encoding", "UTF-8", "-d", str(out), *sources], check=True)
    return out


def java_token_ids(classes, tokenizer_json, max_length: int, texts: list[str], tmp_path) -> list[list[int]]:
    lines = tmp_path / "texts.jsonl"
    lines.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    result = subprocess.run(
        ["java", "-cp", str(classes), "org.bertedge.core.TokenizeLines", str(tokenizer_json), str(max_length),
         str(lines)],
        capture_output=True, text=True, check=True, encoding="utf-8",
    )  # fmt: skip
    return [[int(i) for i in line.split()] for line in result.stdout.splitlines()]


def test_java_tokenizer_gives_the_python_ids(java_classes, minilm_bundle, tmp_path):
    folder = minilm_bundle[0]
    max_length = json.loads((folder / "bundle.json").read_text())["max_length"]
    texts = list(load_set(SST2_DIR, "text-classification").texts)
    texts += list(load_set(STSB_DIR, "feature-extraction").texts) + list(PROBE_TEXTS) + HARD_CASES
    expected = AutoTokenizer.from_pretrained(folder)(texts, truncation=True, max_length=max_length)["input_ids"]
    got = java_token_ids(java_classes, folder / "tokenizer.json", max_length, texts, tmp_path)
    mismatches = [(t, e, g) for t, e, g in zip(texts, expected, got, strict=True) if e != g]
    assert len(got) == len(texts) == 872 + 3000 + len(PROBE_TEXTS) + len(HARD_CASES)
    assert mismatches == []


def test_java_tokenizer_truncates_to_the_bundle_max_length(java_classes, minilm_bundle, tmp_path):
    ids = java_token_ids(java_classes, minilm_bundle[0] / "tokenizer.json", 8, ["one two three four five six seven"],
                         tmp_path)[0]  # fmt: skip
    assert len(ids) == 8 and ids[0] == 101 and ids[-1] == 102


def inspect(classes, folder) -> subprocess.CompletedProcess:
    return subprocess.run(["java", "-cp", str(classes), "org.bertedge.core.InspectBundle", str(folder)],
                          capture_output=True, text=True, encoding="utf-8")  # fmt: skip


@pytest.mark.parametrize("bundle", ["minilm_bundle", "sst2_bundle"])
def test_java_manifest_and_parity_agree_with_runtime_py(request, java_classes, bundle):
    folder = request.getfixturevalue(bundle)[0]
    result = inspect(java_classes, folder)
    assert result.returncode == 0, result.stderr
    java = json.loads(result.stdout)
    manifest = json.loads((folder / "bundle.json").read_text())
    probes = json.loads((folder / "golden.json").read_text())["probes"]
    outputs = np.array([p["bundle"] for p in probes], dtype=np.float32)
    python = agreement(outputs, np.array([p["reference"] for p in probes]), manifest["task"] == "text-classification")
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
