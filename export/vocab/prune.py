"""Prune a tokenizer to the pieces a domain's text uses, keeping every input tokenizable.

Kept: the ids that occur at least `min_count` times in the text, the tokenizer's `common` most common pieces by its
own ranking (VocabModel.by_commonness: the words of its training language the domain's sample may have missed),
every added/special token, the tokenizer model's fallback alphabet (single characters and their continuation forms,
bytes) and, for BPE, the pieces kept pieces are merged from. Dropped: the rest, and rows no text can reach
(embedding/reachable.py: WordPiece's unreachable pieces, and any row past the tokenizer's last id). Kept ids keep
their order and are renumbered 0..k-1, so the pruned table is the original's rows `kept_ids`, and no in-graph row
map is needed. The rewrite edits tokenizer.json (normalizer, pre-tokenizer and
decoder untouched) and tokenizer_config.json's id-keyed entries, then loads the result back through transformers,
as a consumer would.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from ..embedding.reachable import reachable_rows
from ..errors import UserInputError
from .base import VocabModel, plain_backend, processor_ids, remap_tokenizer_json
from .bpe import BpeVocab
from .unigram import UnigramVocab
from .wordpiece import WordPieceVocab

VOCAB_MODELS = {m.name: m for m in (WordPieceVocab(), BpeVocab(), UnigramVocab())}
# Files save_pretrained may write that hold the old vocabulary outside tokenizer.json: left out of the rewrite
# (the fast tokenizer reads tokenizer.json; WordPiece gets a new vocab.txt)
SLOW_VOCAB_FILES = ("vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spm.model", "spiece.model",
                    "added_tokens.json")
COUNT_BATCH = 4096  # texts per tokenizer call while counting
HELD_OUT_EVERY = 10  # coverage on unseen text: a tokenizer pruned on 9 texts in 10, measured on the 10th


@dataclass(frozen=True)
class KeptIds:
    kept_ids: list[int]  # original ids, ascending: the order of their new ids
    original_rows: int
    from_text: int  # kept ids the text used
    from_common: int  # kept as among the tokenizer's most common pieces, not used by the text
    from_fallback: int  # kept only as fallback alphabet, special tokens or BPE merge parts


@dataclass(frozen=True)
class PrunedTokenizer(KeptIds):
    tokenizer: object  # the rewritten PreTrainedTokenizerFast


def token_counts(tokenizer, texts: list[str], rows: int) -> np.ndarray:
    """int64 [rows]: how often each id occurs in `texts` (no special tokens added)."""
    counts = np.zeros(rows, dtype=np.int64)
    backend = plain_backend(tokenizer)
    for start in range(0, len(texts), COUNT_BATCH):
        encoded = backend.encode_batch(texts[start : start + COUNT_BATCH], add_special_tokens=False)
        ids = np.fromiter((i for e in encoded for i in e.ids), dtype=np.int64)
        counts += np.bincount(ids, minlength=rows)[:rows]
    return counts


def kept_ids(tokenizer, texts: list[str], min_count: int, rows: int, common: int = 0) -> KeptIds:
    """The ids to keep, without rewriting the tokenizer (--vocab-rest keeps it as it is). `rows`: the model's
    token-table rows (ids at or above it cannot occur); `common`: how many of the tokenizer's most common pieces
    (beyond the alphabet, and that a text can reach) to keep whatever the text."""
    tokenizer_json = json.loads(tokenizer.backend_tokenizer.to_str())
    model = tokenizer_json["model"]
    entry = _vocab_model(model)
    used = set(np.flatnonzero(token_counts(tokenizer, texts, rows) >= min_count).tolist())
    if not used:  # the bundle would keep only the alphabet: every word spelt letter by letter
        lower = " or a lower --vocab-min-count" if min_count > 1 else ""
        raise UserInputError(f"--vocab: no piece occurs {min_count} or more times in the {len(texts):,} texts "
                             f"counted; give more text of the domain{lower}")  # fmt: skip
    specials = ids_outside_the_model(tokenizer_json)
    if max(specials, default=-1) >= rows:
        raise UserInputError(f"--vocab: the tokenizer has special tokens at ids the model's {rows}-row table "
                             "does not hold; it cannot be pruned")  # fmt: skip
    reachable = reachable_rows(tokenizer, rows)
    alphabet = {i for i in entry.fallback(model) if i < rows and bool(reachable[i])}
    always = specials | alphabet
    ranked = (i for i in entry.by_commonness(model) if i < rows and reachable[i] and i not in always)
    commonest = set(islice(ranked, min(common, rows))) - used
    kept = sorted(i for i in entry.parts_of(model, used | commonest | specials | alphabet) if i < rows)
    return KeptIds(kept, rows, len(used), len(commonest), len(kept) - len(used) - len(commonest))


def prune_tokenizer(tokenizer, texts: list[str], min_count: int, rows: int, common: int = 0) -> PrunedTokenizer:
    """The kept ids (kept_ids) and the tokenizer rewritten to them."""
    kept = kept_ids(tokenizer, texts, min_count, rows, common)
    with tempfile.TemporaryDirectory(prefix="vocab-") as scratch:
        folder = Path(scratch)
        tokenizer.save_pretrained(folder)
        tokenizer_json = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        model = tokenizer_json["model"]
        entry = _vocab_model(model)
        new_id = {old: new for new, old in enumerate(kept.kept_ids)}
        piece_of = entry.piece_of(model)
        in_model = [i for i in kept.kept_ids if i in piece_of]  # not the added tokens outside the model's vocabulary
        rewritten = remap_tokenizer_json(tokenizer_json, entry.rewritten(model, in_model), new_id)
        pruned = _written_and_loaded(folder, rewritten, new_id, entry)
    vocabulary = pruned.get_vocab()
    count = len(kept.kept_ids)
    if len(vocabulary) != count or max(vocabulary.values()) != count - 1:
        raise UserInputError(f"--vocab: the rewritten tokenizer holds {len(vocabulary)} ids, not the {count} "
                             "kept; this tokenizer's layout is not one --vocab can rewrite")  # fmt: skip
    return PrunedTokenizer(**vars(kept), tokenizer=pruned)


def _vocab_model(model: dict) -> VocabModel:
    entry = VOCAB_MODELS.get(model["type"])
    if entry is None:
        raise UserInputError(f"--vocab cannot prune a {model['type']} tokenizer (it prunes {', '.join(VOCAB_MODELS)})")
    return entry


def ids_outside_the_model(tokenizer_json: dict) -> set[int]:
    """Ids tokenizer.json names outside its list of pieces (added tokens, post-processor specials, padding, the
    model's unknown piece: Unigram's unk_id, WordPiece's and BPE's unk_token, which need not be an added token):
    all are kept."""
    ids = {token["id"] for token in tokenizer_json["added_tokens"]}
    model = tokenizer_json["model"]
    if (tokenizer_json.get("padding") or {}).get("pad_id") is not None:
        ids.add(tokenizer_json["padding"]["pad_id"])
    if model.get("unk_id") is not None:
        ids.add(model["unk_id"])
    if isinstance(model.get("vocab"), dict) and model.get("unk_token") in model["vocab"]:
        ids.add(model["vocab"][model["unk_token"]])
    return ids | processor_ids(tokenizer_json.get("post_processor"))


def _written_and_loaded(folder: Path, tokenizer_json: dict, new_id: dict[int, int], entry) -> object:
    from transformers import AutoTokenizer

    for name in SLOW_VOCAB_FILES:
        (folder / name).unlink(missing_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if "added_tokens_decoder" in config:
        config["added_tokens_decoder"] = {
            str(new_id[int(old)]): token for old, token in config["added_tokens_decoder"].items()
        }
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    if entry.name == "WordPiece":  # BERT-style consumers read vocab.txt: one piece per line, in id order
        piece_of = entry.piece_of(tokenizer_json["model"])  # rewritten: ids 0..n-1
        (folder / "vocab.txt").write_text("".join(piece_of[i] + "\n" for i in sorted(piece_of)), encoding="utf-8")
    return AutoTokenizer.from_pretrained(folder)


def held_out_split(texts: list[str]) -> tuple[list[str], list[str]]:
    """(9 texts in 10, the 10th minus any text among the nine): a tokenizer pruned on the first is measured on the
    second, as the bundle's (pruned on all) will meet new text of the domain. No held-out text when there are too
    few texts to spare a tenth."""
    if len(texts) < 2 * HELD_OUT_EVERY:
        return texts, []
    counted = [t for i, t in enumerate(texts) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    seen = set(counted)
    return counted, [t for i, t in enumerate(texts) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 and t not in seen]


def pruned_table(embedding, kept_ids: list[int], padding_idx: int | None):
    """The rows `kept_ids` of `embedding` (an nn.Embedding) as a new nn.Embedding, in that order."""
    import torch

    table = torch.nn.Embedding(len(kept_ids), embedding.embedding_dim, padding_idx=padding_idx)
    with torch.no_grad():
        table.weight.copy_(embedding.weight[torch.tensor(kept_ids)])
    return table
