"""What a sentence-transformers checkpoint declares beside its weights, read without sentence-transformers: its
modules (modules.json: the pooling, whether it normalises), its similarity function and its truncation length.
A bundle reproduces the model, its pooling and unit length; anything else is refused, not replaced by the preset's
choice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from runtime_py.arguments import whole_number
from runtime_py.messages import first_line

from .errors import UserInputError

# any other module (Dense, LayerNorm, ...) changes the embedding, and the bundle would leave it out
SHIPPED_MODULES = ("Transformer", "Pooling", "Normalize")
POOLING_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean"}
# the runtimes score an embedder's unit vectors by cosine (runtime_py's search and similarity)
COSINE = "cosine"


@dataclass(frozen=True)
class Declared:
    pooling: str | None  # "cls" or "mean"; None: no Pooling module
    normalizes: bool  # a Normalize module: its vectors are unit length, as a bundle's always are


def declared_modules(folder: Path) -> Declared | None:
    """The checkpoint's modules.json, if it has one; modules a bundle cannot reproduce (a max pooling, a Dense
    layer) and a similarity other than cosine on vectors it does not normalise (a dot-product model, whose scores
    unit vectors would change) are refused."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        kinds = [module.get("type", "").rsplit(".", 1)[-1] for module in modules]
        unknown = [kind for kind in kinds if kind not in SHIPPED_MODULES]
        if unknown:
            raise UserInputError(f"{modules_file}: a sentence-transformers {unknown[0]} module, which a bundle "
                                 f"does not reproduce (it runs {', '.join(SHIPPED_MODULES)})")  # fmt: skip
        pooling = next((_pooling_mode(folder / module["path"] / "config.json")
                        for module, kind in zip(modules, kinds, strict=True) if kind == "Pooling"), None)  # fmt: skip
    except (OSError, ValueError, RecursionError, AttributeError, KeyError, TypeError) as err:
        # ValueError covers JSON and UTF-8 errors; the others a modules.json of the wrong shape
        raise UserInputError(f"{modules_file}: not a sentence-transformers module list with a readable pooling "
                             f"config ({first_line(err)})") from None  # fmt: skip
    declared = Declared(pooling, "Normalize" in kinds)
    if not declared.normalizes:
        _check_similarity(folder / "config_sentence_transformers.json")
    return declared


def declared_max_length(folder: Path, fewest: int) -> int | None:
    """sentence_bert_config.json's max_seq_length, where the checkpoint truncates its input; at least `fewest`."""
    settings_file = folder / "sentence_bert_config.json"
    if not settings_file.is_file():
        return None
    length = _read_object(settings_file).get("max_seq_length")
    if length is not None and (not whole_number(length) or length < fewest):
        raise UserInputError(f"{settings_file}: max_seq_length must be a whole number of at least {fewest} "
                             f"tokens (got {length!r})")  # fmt: skip
    return length


def check_lower_case(folder: Path, tokenizer) -> None:
    """sentence_bert_config.json's do_lower_case: sentence-transformers lowercases the text before the tokenizer,
    and a bundle runs tokenizer.json alone, so that tokenizer must lowercase on its own (BERT's uncased ones do)."""
    settings_file = folder / "sentence_bert_config.json"
    if not settings_file.is_file() or _read_object(settings_file).get("do_lower_case") is not True:
        return
    normalizer = tokenizer.backend_tokenizer.normalizer
    if normalizer is None or normalizer.normalize_str("ABC") != "abc":
        raise UserInputError(f"{settings_file}: do_lower_case: sentence-transformers lowercases the text, and the "
                             "tokenizer does not, which a bundle runs alone; it would embed other tokens")  # fmt: skip


def _check_similarity(settings_file: Path) -> None:
    """On unit vectors every dot product is a cosine: only a checkpoint that does not normalise needs this."""
    if not settings_file.is_file():
        return
    similarity = _read_object(settings_file).get("similarity_fn_name")
    if similarity not in (None, COSINE):
        raise UserInputError(f"{settings_file}: the checkpoint scores by {similarity}; a bundle outputs unit "
                             "vectors, scored by cosine, which would change its scores")  # fmt: skip


def _read_object(settings_file: Path) -> dict:
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise UserInputError(f"{settings_file}: not readable ({first_line(err)})") from None
    if not isinstance(settings, dict):
        raise UserInputError(f"{settings_file}: not a JSON object")
    return settings


def _pooling_mode(config_file: Path) -> str:
    pooling = json.loads(config_file.read_text(encoding="utf-8"))
    chosen = [mode for mode, value in pooling.items() if mode.startswith("pooling_mode_") and value]
    if len(chosen) != 1 or chosen[0] not in POOLING_MODES:
        raise UserInputError(f"{config_file}: pooling {' + '.join(chosen) or 'none'}; a bundle pools by "
                             f"{' or '.join(POOLING_MODES.values())}")  # fmt: skip
    return POOLING_MODES[chosen[0]]
