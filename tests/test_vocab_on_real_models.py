"""--vocab end to end on the real SST-2 classifier: the vocabulary pruned to SST-2's training sentences, scored on
the dev sentences (text the pruning never saw), one at a time. Figures and commands: docs/vocab.md."""

from __future__ import annotations

INT8_ROW_BYTES = 384  # all-MiniLM's rows, one byte per value


def test_the_pruned_classifier_keeps_its_accuracy_on_unseen_dev_text(sst2_pruned_bundle):
    """Measured 0.8635 on the CI machine kind (deterministic: no fit, no seed); the floor 0.8567 is 4 sd of the
    int8 kernels' spread between CPUs (0.0017, docs/lighttoken-fit.md) under it. Issue 20 asks for ≤ 0.3 pt
    below the same export without --vocab (0.8704): not met, −0.69 pt, 2.5% of dev words split differently
    (docs/vocab.md has the curve). Broken on purpose (the pruned table's rows taken in the original order,
    `pruned_table` given `range(len(kept_ids))`) it scores 0.5149."""
    _, report = sst2_pruned_bundle
    assert report["accuracy"]["bundle"] >= 0.8567, report["accuracy"]
    assert report["parity"]["passed"]


def test_the_pruned_bundle_stores_only_the_kept_rows_and_tokenizes_the_domain_as_before(sst2_pruned_bundle):
    _, report = sst2_pruned_bundle
    pruning, size = report["vocab"], report["size"]
    assert 12_000 < pruning["rows_kept"] < 14_500  # measured 13,116 of 30,522
    # the table is the kept rows at a byte each (plus per-tensor scale and zero point): every dropped row's bytes
    # are out of the file
    assert pruning["rows_kept"] * INT8_ROW_BYTES <= size["embedding_bytes"] < pruning["rows_kept"] * INT8_ROW_BYTES + 64
    assert pruning["coverage"]["held_out"]["texts_unchanged"] > 0.99  # measured 0.995 on held-out train sentences
    assert pruning["coverage"]["held_out"]["unk_rate_pruned"] == pruning["coverage"]["held_out"]["unk_rate_original"]


def test_the_rest_as_codes_keeps_the_accuracy_pruning_lost_on_unseen_text(sst2_rest_bundle):
    """--vocab-rest 100: the rows SST-2's training sentences use stored int8, the other 16,075 reachable rows as
    lighttoken codes, the tokenizer unchanged, so no dev word splits differently. Seeds 0-4 measured 0.8704 0.8704
    0.8693 0.8681 0.8750 (AMD EPYC; docs/vocab.md), against 0.8681 without --vocab; seed 0's floor 0.8636 is 4 sd
    of the int8 kernels' spread between CPUs (0.0017) under its 0.8704. Broken on purpose (the rest's rows
    numbered in reverse, so each id outside the domain decodes another token's codes: `row_map` patched) it
    scores 0.8589."""
    _, report = sst2_rest_bundle
    assert report["accuracy"]["bundle"] >= 0.8636, report["accuracy"]
    assert report["parity"]["passed"]
    pruning, embedding = report["vocab"], report["embedding"]
    assert pruning["coverage"]["evaluation"]["texts_unchanged"] == 1.0 and pruning["rows_dropped"] == 0
    # the kept rows at a byte each (plus per-tensor scale and zero point), the rest's codes, a two-byte map for
    # each of the 30,522 ids (254,031 + 61,044 bytes measured, 5% of the 6.2 MB the dropped rows would free) and
    # the graph's few scalar constants
    stored = pruning["rows_kept"] * INT8_ROW_BYTES + embedding["rest_bytes"] + 2 * pruning["rows_original"]
    assert stored <= report["size"]["embedding_bytes"] < stored + 128
