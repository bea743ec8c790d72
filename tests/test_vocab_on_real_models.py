"""--vocab end to end on the real SST-2 classifier: the vocabulary pruned to SST-2's training sentences, scored on
the dev sentences (text the pruning never saw), one at a time. Figures and commands: docs/vocab.md."""

from __future__ import annotations

import numpy as np
import torch
from conftest import SST2_DIR, SST2_MODEL
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from export.datasets import read_examples, read_texts
from export.vocab import kept_ids
from runtime_py import Bundle

INT8_ROW_BYTES = 384  # all-MiniLM's rows, one byte per value


def test_the_pruned_classifier_keeps_its_accuracy_on_unseen_dev_text(sst2_pruned_bundle):
    """Measured 0.8635 on an Intel Xeon (13,116 rows, counted on 9 texts in 10) and 0.8658 on an AMD EPYC without
    AVX-512 (13,150 rows, every text counted); deterministic: no fit, no seed. The floor 0.8567 is 4 sd of the int8
    kernels' spread between CPUs (0.0017, docs/lighttoken-fit.md) under the Intel figure. Issue 20 asks for ≤ 0.3 pt
    below the same export without --vocab (0.8704 Intel, 0.8681 AMD): −0.69 and −0.23 pt, the fp32 models 0.69 pt
    apart on both, 2.5% of dev words split differently (docs/vocab.md has the curve). Broken on purpose (the pruned
    table's rows taken in the original order, `pruned_table` given `range(len(kept_ids))`) it scores 0.5149."""
    _, report = sst2_pruned_bundle
    assert report["accuracy"]["bundle"] >= 0.8567, report["accuracy"]
    assert report["parity"]["passed"]


def test_the_pruned_bundle_stores_only_the_kept_rows_and_tokenizes_the_domain_as_before(sst2_pruned_bundle):
    _, report = sst2_pruned_bundle
    pruning, size = report["vocab"], report["size"]
    assert pruning["rows_kept"] == 13_150  # of 30,522; deterministic: the tokenizer and train.tsv's pieces alone
    # the table is the kept rows at a byte each (plus per-tensor scale and zero point): every dropped row's bytes
    # are out of the file
    assert pruning["rows_kept"] * INT8_ROW_BYTES <= size["embedding_bytes"] < pruning["rows_kept"] * INT8_ROW_BYTES + 64
    # measured 0.995 on 6,674 held-out train sentences (those not also among the counted nine in ten)
    assert pruning["coverage"]["held_out"]["texts_unchanged"] > 0.99
    assert pruning["coverage"]["held_out"]["unk_rate_pruned"] == pruning["coverage"]["held_out"]["unk_rate_original"]


def test_the_rest_as_codes_keeps_the_accuracy_pruning_lost_on_unseen_text(sst2_rest_bundle):
    """--vocab-rest 100: the rows SST-2's training sentences use stored int8, the other 16,041 reachable rows as
    lighttoken codes, the tokenizer unchanged, so no dev word splits differently. Seeds 0-4 measured 0.8716 0.8739
    0.8716 0.8670 0.8739 (AMD EPYC without AVX-512; docs/vocab.md), against 0.8681 without --vocab; seed 0's floor
    0.8648 is 4 sd of the int8 kernels' spread between CPUs (0.0017) under its 0.8716. Accuracy alone cannot tell
    a broken rest (its rows numbered in reverse, so each id outside the domain decodes another token's codes:
    `row_map` patched) from a working one: it scores 0.8670, as seed 3 does; the next test can."""
    _, report = sst2_rest_bundle
    assert report["accuracy"]["bundle"] >= 0.8648, report["accuracy"]
    assert report["parity"]["passed"]
    pruning, embedding = report["vocab"], report["embedding"]
    assert pruning["coverage"]["evaluation"]["texts_unchanged"] == 1.0 and pruning["rows_dropped"] == 0
    # the kept rows at a byte each (plus per-tensor scale and zero point), the rest's codes, a two-byte map for
    # each of the 30,522 ids (254,031 + 61,044 bytes measured, 5% of the 6.2 MB the dropped rows would free) and
    # the graph's few scalar constants
    stored = pruning["rows_kept"] * INT8_ROW_BYTES + embedding["rest_bytes"] + 2 * pruning["rows_original"]
    assert stored <= report["size"]["embedding_bytes"] < stored + 128


# Mean |p - p_fp32| of the positive class on the 309 SST-2 dev texts that hold a token outside the domain, each run
# alone through the bundle, against the original fp32 model: seeds 0-4 of --vocab-rest 100 measured 0.0326 0.0357
# 0.0359 0.0297 0.0348 (mean 0.0337, sd 0.0026; AMD EPYC without AVX-512; this test's computation on the bundles
# of docs/vocab.md's commands); the bound is 4 sd over the mean. Against it: the same rows with the rest's codes
# scrambled 0.0618, the words spelt from kept pieces (plain --vocab) 0.0523, the whole table int8 0.0137; on the 563
# texts the domain covers, every bundle stays at 0.010-0.012.
REST_TEXTS_DRIFT = 0.044


def test_the_rest_keeps_the_model_near_the_original_on_dev_text_outside_the_domain(sst2_rest_bundle):
    """The rest's codes approximate each token's own row: on the dev texts that use them, the bundle stays closer
    to the fp32 model than spelling those words from the kept pieces would (plain --vocab), and than codes decoded
    for the wrong tokens."""
    folder, report = sst2_rest_bundle
    original = AutoTokenizer.from_pretrained(SST2_MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(SST2_MODEL).eval()
    domain = set(kept_ids(original, read_texts(SST2_DIR / "train.tsv", "text"), 1, 30_522).kept_ids)
    assert len(domain) == report["vocab"]["rows_kept"]
    texts = [t for t in read_examples(SST2_DIR).texts if not set(original(t)["input_ids"]) <= domain]
    assert 250 < len(texts) < 400  # measured 309 of 872
    with torch.no_grad():
        logits = model(**original(texts, padding=True, return_tensors="pt")).logits.double()
    expected = torch.softmax(logits, -1)[:, 1].numpy()
    bundle = Bundle.load(folder)
    outputs = np.concatenate([bundle.outputs([t], batch_size=1) for t in texts]).astype(np.float64)
    shipped = np.exp(outputs[:, 1]) / np.exp(outputs).sum(-1)
    assert float(np.abs(shipped - expected).mean()) < REST_TEXTS_DRIFT
