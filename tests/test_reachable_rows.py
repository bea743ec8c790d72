"""Rows no text can reach: found from the tokenizer itself, left out of the bundle, looked up exactly."""

from __future__ import annotations

import pytest
import torch
from conftest import SST2_DEV, STSB_DIR, WIKITEXT
from tiny_models import UNREACHABLE, byte_level_bpe, unigram, wordpiece
from transformers import AutoTokenizer

from export.embedding import NoCompression, make_method
from export.embedding.base import fp32_table_bytes
from export.embedding.reachable import ReachableRows, left_out_ranges, reachable_rows
from export.load import resolve_checkpoint
from export.tasks import load_set


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return AutoTokenizer.from_pretrained(resolve_checkpoint("sentence-transformers/all-MiniLM-L6-v2"))


@pytest.fixture(scope="module")
def minilm_keep(minilm_tokenizer):
    return reachable_rows(minilm_tokenizer, len(minilm_tokenizer))


def test_minilm_vocabulary_has_1331_unreachable_rows_in_20_ranges(minilm_tokenizer, minilm_keep):
    ends, lengths = left_out_ranges(minilm_keep)
    assert int((~minilm_keep).sum()) == 1331
    assert len(ends) == 20 and int(lengths.sum()) == 1331
    ids = minilm_tokenizer.convert_tokens_to_ids
    assert not minilm_keep[ids(["[unused0]", "[unused993]", "##!", "##中", "..."])].any()
    assert minilm_keep[ids(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "!", "中", "the", "##s", "##ing"])].all()


def test_every_token_of_real_text_is_kept(minilm_tokenizer, minilm_keep, shared_assets):
    texts = load_set(SST2_DEV.parent, "text-classification").texts + load_set(STSB_DIR, "feature-extraction").texts
    texts.extend((WIKITEXT / "valid.txt").read_text(encoding="utf-8").splitlines())
    ids = {i for row in minilm_tokenizer(texts)["input_ids"] for i in row}
    assert len(ids) > 10_000
    assert minilm_keep[sorted(ids)].all()


def test_left_out_tokens_are_not_produced_by_their_own_text(minilm_tokenizer, minilm_keep):
    vocab = minilm_tokenizer.convert_ids_to_tokens(range(len(minilm_keep)))
    left_out = [i for i in range(len(vocab)) if not minilm_keep[i]]
    texts = [f"a{vocab[i][2:]} {vocab[i]} x{vocab[i]}" for i in left_out]
    produced = {i for row in minilm_tokenizer(texts)["input_ids"] for i in row}
    assert produced.isdisjoint(left_out)


def test_tiny_wordpiece_leaves_out_its_planted_rows():
    tokenizer = wordpiece()
    keep = reachable_rows(tokenizer, len(tokenizer))
    assert sorted(tokenizer.convert_ids_to_tokens(torch.nonzero(~keep).flatten().tolist())) == sorted(UNREACHABLE)


@pytest.mark.parametrize("make", [byte_level_bpe, lambda: unigram(["<s>", "<pad>", "</s>", "<unk>"], "<s>", "</s>",
                                                                  "<pad>", "<unk>")])  # fmt: skip
def test_bpe_and_unigram_vocabularies_keep_every_row(make):
    tokenizer = make()
    assert reachable_rows(tokenizer, len(tokenizer)).all()


@pytest.mark.parametrize("make", [wordpiece, byte_level_bpe])
def test_rows_past_the_tokenizers_last_id_are_left_out(make):
    """A table padded to a round size (DeBERTa-v3: 128,100 rows for 128,001 ids) holds rows no tokenizer output
    reaches, whatever its model."""
    tokenizer = make()
    alone, padded = reachable_rows(tokenizer, len(tokenizer)), reachable_rows(tokenizer, len(tokenizer) + 7)
    assert torch.equal(padded[: len(tokenizer)], alone) and not padded[len(tokenizer) :].any()


def test_a_bpe_model_with_a_padded_table_exports_without_its_padding(tmp_path, export_cache, tiny_checkpoint):
    from test_tiny_exports import export
    from transformers import AutoModel

    from runtime_py import Bundle

    model = AutoModel.from_pretrained(tiny_checkpoint("roberta"))
    model.resize_token_embeddings(model.config.vocab_size + 11)
    model.save_pretrained(tmp_path / "padded")
    AutoTokenizer.from_pretrained(tiny_checkpoint("roberta")).save_pretrained(tmp_path / "padded")
    out, report, _ = export(tmp_path, export_cache, tmp_path / "padded", "roberta", "--embedding", "int8")
    assert report["embedding"]["rows_unreachable"] == 11 and report["parity"]["passed"]
    check = Bundle.load(out).self_check()
    assert check.passed, check.failures


@pytest.fixture(scope="module")
def table_and_keep():
    torch.manual_seed(0)
    table = (torch.randn(3000, 16) @ torch.randn(16, 96) + 0.1 * torch.randn(3000, 96)).float()
    keep = torch.ones(3000, dtype=torch.bool)
    keep[1:100] = keep[1500:1510] = keep[2990:] = False
    return table, keep


def test_lookup_by_token_id_reads_the_kept_row(table_and_keep):
    table, keep = table_and_keep
    module = NoCompression().compress(table, keep=keep)
    assert isinstance(module, ReachableRows)
    assert module.describe() == {"rows_stored": 2881, "rows_unreachable": 119}
    kept_ids = torch.nonzero(keep).flatten()
    with torch.no_grad():
        assert torch.equal(module(kept_ids.reshape(1, -1)), table[kept_ids].unsqueeze(0))
    assert module.stored_bytes() == 2881 * 96 * 4 + 2 * 3 * 8  # kept rows + (end, length) per range


@pytest.mark.parametrize(("name", "ratio"), [("svd", 8.0), ("lighttoken", 25.0), ("int4", 7.3)])
def test_ratio_counts_the_whole_table(table_and_keep, name, ratio):
    """Left-out rows leave their bytes to the kept ones: the ratio promised is against the whole fp32 table."""
    table, keep = table_and_keep
    module = make_method(name, ratio=ratio).compress(table, keep=keep)
    achieved = fp32_table_bytes(table) / module.stored_bytes()
    assert abs(achieved / ratio - 1) <= 0.05
    assert module.inner.num_embeddings == 2881
