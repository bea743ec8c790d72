"""bundle.json: read it, check its format version, and check every file it lists against its sha256."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from .arguments import whole_number

FORMAT_VERSION = 2  # 2: "encoder" (method and settings) replaced the "quantize" string
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the model inputs this runtime knows how to fill
TASKS = ("feature-extraction", "text-classification", "text-pair-classification")
PAIR_TASKS = ("text-pair-classification",)  # the model reads two texts at once (token types 0 and 1)


class BundleError(Exception):
    """A bundle that cannot be used: missing, corrupt, or of a kind this runtime does not know."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: list[str]


@dataclass(frozen=True)
class ModelSpec:
    file: str  # the model file inside the bundle
    format: str  # "ort" or "onnx"
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    # a model run once at load whose outputs are the main model's other inputs (4-bit weights decoded by standard
    # ops: export/targets/load_time_decode.py); None for most bundles
    weights: str | None = None


@dataclass(frozen=True)
class TokenizerSpec:
    file: str  # tokenizer.json, what runtimes load
    files: list[str]  # every tokenizer file saved (transformers reads the others)
    # what the exporter padded batches with (padded rows are masked, but equal inputs keep the runtimes' batched
    # outputs equal to golden.json's to the last bit)
    pad_id: int


@dataclass(frozen=True)
class BundleTolerance:
    """What a runtime's self-check holds the bundle to against golden.json's `reference` outputs: the int8
    baseline's agreement on the probes, on the exporting machine, less the preset's margin."""

    min_cosine: float  # for one-output models, the concordance of the scores (parity.row_similarity)
    min_top1_agreement: float


@dataclass(frozen=True)
class Manifest:
    """bundle.json: the one contract between the exporter (which writes it with to_json), runtime_py and the
    Android core (which read it). bundle.schema.json describes the same fields for other readers."""

    preset: str
    checkpoint: str
    model_type: str
    task: str
    labels: list[str] | None  # classifiers' label names, in output order
    pooling: str | None  # embedders: how the graph pools tokens
    normalized: bool  # embedders: the output is L2-normalised
    max_length: int
    model: ModelSpec
    tokenizer: TokenizerSpec
    embedding: dict[str, Any]  # method, ratio_requested, seed and its resolved settings
    encoder: dict[str, Any]  # the encoder method and its resolved settings
    tolerance: BundleTolerance
    tools: dict[str, str]  # package versions that made the bundle
    files: dict[str, str] = field(default_factory=dict)  # every file a consumer needs -> its sha256
    folder: Path = Path()  # where it was read from (not written)

    @property
    def model_file(self) -> str:
        return self.model.file

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.model.inputs]

    @property
    def output_name(self) -> str:
        return self.model.outputs[0].name

    @property
    def tokenizer_file(self) -> str:
        return self.tokenizer.file

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_id

    @property
    def min_cosine(self) -> float:
        return self.tolerance.min_cosine

    @property
    def min_top1_agreement(self) -> float:
        return self.tolerance.min_top1_agreement

    @property
    def is_classifier(self) -> bool:
        return self.task != "feature-extraction"

    @property
    def takes_pairs(self) -> bool:
        return self.task in PAIR_TASKS

    def to_json(self) -> dict[str, Any]:
        """bundle.json's content, format version first and `files` last."""
        fields = {name: value for name, value in asdict(self).items() if name != "folder"}
        return {"format_version": FORMAT_VERSION, **fields}

    @classmethod
    def from_json(cls, raw: dict[str, Any], folder: Path = Path()) -> Manifest:
        model, tokenizer = raw["model"], raw["tokenizer"]
        return cls(
            preset=raw["preset"],
            checkpoint=raw["checkpoint"],
            model_type=raw["model_type"],
            task=raw["task"],
            labels=raw.get("labels"),
            pooling=raw.get("pooling"),
            normalized=json_bool(raw["normalized"], "normalized"),
            max_length=json_whole_number(raw["max_length"], "max_length"),
            model=ModelSpec(
                model["file"],
                model["format"],
                [_tensor_spec(t, "model.inputs") for t in model["inputs"]],
                [_tensor_spec(t, "model.outputs") for t in model["outputs"]],
                model.get("weights"),
            ),
            tokenizer=TokenizerSpec(
                tokenizer["file"], list(tokenizer["files"]), json_whole_number(tokenizer["pad_id"], "tokenizer.pad_id")
            ),
            embedding=dict(raw["embedding"]),
            encoder=dict(raw["encoder"]),
            tolerance=BundleTolerance(
                _json_number(raw["tolerance"]["min_cosine"]), _json_number(raw["tolerance"]["min_top1_agreement"])
            ),
            tools=dict(raw["tools"]),
            files=dict(raw["files"]),
            folder=folder,
        )


def json_bool(value: object, name: str) -> bool:
    """JSON's true or false; bool() read the string "false" as true."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not true or false")
    return value


def _tensor_spec(raw: object, where: str) -> TensorSpec:
    """A tensor's name and dtype (strings) and shape (a list), nothing else: a list for a name failed later as a
    TypeError where the names are compared."""
    if not (isinstance(raw, dict) and set(raw) == {"name", "dtype", "shape"} and isinstance(raw["name"], str)
            and isinstance(raw["dtype"], str) and isinstance(raw["shape"], list)):  # fmt: skip
        raise ValueError(f"{where}: {raw!r} is not a tensor's name, dtype (strings) and shape (a list)")
    return TensorSpec(raw["name"], raw["dtype"], raw["shape"])


def json_whole_number(value: object, name: str) -> int:
    """A JSON whole number as it is: not a string of one, a fraction, or a bool (which Python counts as an int)."""
    if not whole_number(value):
        raise ValueError(f"{name}: {value!r} is not a whole number")
    return value


def read_manifest(folder: Path, verify: bool = True) -> Manifest:
    folder = Path(folder)
    try:
        return _read_manifest(folder, verify)
    except OSError as err:  # a name longer than the file system allows, a file it may not read
        raise BundleError(f"cannot read the bundle file {err.filename or folder}: {err.strerror or err}") from None


def _json_number(value: object) -> float:
    """A JSON number as a float; NaN (outside every range field_problem checks) for a string or a boolean, which
    float() would read as a number (\"0.9\", true) where the Java core does not."""
    return float(value) if type(value) in (int, float) else math.nan


def _read_manifest(folder: Path, verify: bool) -> Manifest:
    if not folder.is_dir():
        raise BundleError(f"bundle folder not found: {folder}")
    raw = _read_json(folder / "bundle.json")
    version = raw.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # 2.0 is not a format the Java core reads either
        raise BundleError(f"{folder / 'bundle.json'}: format_version {version!r}; this runtime reads {FORMAT_VERSION}")
    files = raw.get("files", {})
    if not isinstance(files, dict):
        raise BundleError(f"{folder / 'bundle.json'}: files must map each file's name to its sha256")
    outside = next((name for name in files if not inside_the_folder(name)), None)
    if outside is not None:  # before any file is read
        raise BundleError(f"{folder / 'bundle.json'}: {outside!r} is not a file inside the bundle's folder")
    if verify:
        for name, digest in files.items():
            check_file(folder / name, digest)
    try:
        manifest = Manifest.from_json(raw, folder)
    except (KeyError, TypeError, ValueError) as err:
        raise BundleError(f"{folder / 'bundle.json'}: missing or malformed field {err}") from None
    unknown = sorted(set(manifest.input_names) - set(INPUTS))
    if unknown:
        raise BundleError(f"{folder / 'bundle.json'}: model inputs {unknown} are not ones this runtime fills")
    if manifest.task not in TASKS:
        raise BundleError(f"{folder / 'bundle.json'}: task {manifest.task!r} is not one of {', '.join(TASKS)}")
    problem = field_problem(manifest)
    if problem:
        raise BundleError(f"{folder / 'bundle.json'}: {problem}")
    return manifest


def inside_the_folder(name: object) -> bool:
    """A relative file name that stays in the bundle's folder (no absolute path, no "..", no drive)."""
    if not isinstance(name, str) or not name or "\\" in name or ":" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


MAX_LENGTH_LIMIT = 1 << 20  # tokens; far past any BERT-family model's position table
ID_LIMIT = 1 << 31  # token ids are int32 in the Java core


def field_problem(manifest: Manifest) -> str | None:
    """What makes a parsed bundle.json unusable (None when nothing): the ranges bundle.schema.json states, which
    from_json's conversions alone do not check, and what a schema cannot state: every name inside the bundle's
    folder, each file the runtime reads listed with its sha256 (a pair model's room for text in max_length depends
    on its tokenizer's special tokens: text.TextEncoder checks it)."""
    model, tokenizer, tolerance = manifest.model, manifest.tokenizer, manifest.tolerance
    names = {"model.file": model.file, "tokenizer.file": tokenizer.file}
    if model.weights is not None:
        names["model.weights"] = model.weights
    bad = next((key for key, name in names.items() if not (isinstance(name, str) and name)), None)
    if bad:
        return f"{bad} must name a file of the bundle"
    outside = next((name for name in names.values() if not inside_the_folder(name)), None)
    if outside is not None:
        return f"{outside!r} is not a file inside the bundle's folder"
    unlisted = next((key for key, name in names.items() if name not in manifest.files), None)
    if unlisted:  # so that every file the runtime reads is checked against its sha256
        return f"{unlisted} {names[unlisted]} is not listed in files with its sha256"
    if not model.outputs:
        return "model.outputs lists no output"
    if len(set(manifest.input_names)) < len(manifest.input_names):
        return "model.inputs names an input twice"
    if not 2 <= manifest.max_length <= MAX_LENGTH_LIMIT:
        return f"max_length {manifest.max_length} is not between 2 and {MAX_LENGTH_LIMIT}"
    if not 0 <= tokenizer.pad_id < ID_LIMIT:
        return f"tokenizer.pad_id {tokenizer.pad_id} is not a token id"
    if not (-1 <= tolerance.min_cosine <= 1 and 0 <= tolerance.min_top1_agreement <= 1):
        return "tolerance: min_cosine must be within [-1, 1] and min_top1_agreement within [0, 1]"
    labels = manifest.labels
    if labels is not None and not (isinstance(labels, list) and labels and all(isinstance(n, str) for n in labels)):
        return "labels must be a list of label names"
    return None


def write_manifest(folder: Path, manifest: Manifest, files: list[str]) -> Manifest:
    """Write bundle.json with the sha256 of exactly `files` (the model, golden.json, the tokenizer's...)."""
    hashed = replace(manifest, files={name: sha256(folder / name) for name in sorted(files)}, folder=folder)
    text = json.dumps(hashed.to_json(), indent=1, ensure_ascii=False) + "\n"
    (folder / "bundle.json").write_text(text, encoding="utf-8")
    return hashed


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks; the exporter writes bundle.json's hashes with it too."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, expected_sha256: str) -> None:
    if not path.is_file():
        raise BundleError(f"bundle file missing: {path}")
    if sha256(path) != expected_sha256:
        raise BundleError(f"bundle file corrupt (sha256 differs from bundle.json): {path}")


def strict_json(text: str) -> Any:
    """json.loads without Python's extensions NaN, Infinity and -Infinity, which JSON, and so the Java core's
    reader, does not have: both runtimes read a bundle's files alike."""
    return json.loads(text, parse_constant=_not_json)


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"bundle file missing: {path}")
    try:
        data = strict_json(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise BundleError(f"{path} is not valid JSON: {err}") from None
    except RecursionError:
        raise BundleError(f"{path} is nested too deeply to be a bundle's JSON") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not a JSON object")
    return data
