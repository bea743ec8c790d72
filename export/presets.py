"""Model presets: one TOML file per family in models/ (shipped as the export.model_presets package data)."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from importlib import resources

from runtime_py.arguments import whole_number

from .config import MIN_MAX_LENGTH, Preset, Tolerance
from .embedding import EmbeddingMethod, make_method
from .errors import UserInputError
from .sentence_transformers import POOLING_MODES
from .typed_fields import check_field_types, check_value

SETTINGS = ("description", "model_types", "checkpoint", "pooling", "max_length", "tolerance", "embedding")
POOLINGS = tuple(POOLING_MODES.values())  # what the sentence embedding (tasks/feature_extraction.py) computes


def _preset_files() -> dict[str, resources.abc.Traversable]:
    folder = resources.files("export.model_presets")
    return {f.name.removesuffix(".toml"): f for f in folder.iterdir() if f.name.endswith(".toml")}


def preset_names() -> list[str]:
    return sorted(_preset_files())


def load_preset(name: str) -> Preset:
    files = _preset_files()
    if name not in files:
        raise UserInputError(f"unknown preset '{name}'; choose one of: {', '.join(sorted(files))}")
    try:
        return _preset(name, tomllib.loads(files[name].read_text(encoding="utf-8")))
    except UserInputError as err:
        raise UserInputError(f"preset file {files[name]}: {err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserInputError(f"preset file {files[name]}: not TOML ({err})") from None


def _preset(name: str, data: dict) -> Preset:
    """A preset's TOML table as a Preset; UserInputError for a missing, unknown or mistyped setting (the code would
    misread some: a pooling it does not know was computed as mean, a string of model types read letter by letter)."""
    unknown = sorted(set(data) - set(SETTINGS))
    missing = [key for key in SETTINGS if key not in data and key != "tolerance"]
    if unknown or missing:
        raise UserInputError(f"unknown setting {unknown[0]}" if unknown else f"lacks {missing[0]}")
    for key in ("description", "checkpoint"):
        check_value(data[key], "str", key)
    types = data["model_types"]
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise UserInputError(f"model_types must be a list of model types (got {types!r})")
    if data["pooling"] not in POOLINGS:
        raise UserInputError(f"pooling must be {' or '.join(POOLINGS)} (got {data['pooling']!r})")
    if not whole_number(data["max_length"]) or data["max_length"] < MIN_MAX_LENGTH:
        raise UserInputError(f"max_length must be a whole number of at least {MIN_MAX_LENGTH} (got "
                             f"{data['max_length']!r})")  # fmt: skip
    return Preset(
        name=name,
        description=data["description"],
        model_types=tuple(types),
        checkpoint=data["checkpoint"],
        pooling=data["pooling"],
        max_length=data["max_length"],
        tolerance=_tolerance(data.get("tolerance", {})),
        embedding=_embedding(data["embedding"]),
    )


def _tolerance(table: object) -> Tolerance:
    if not isinstance(table, dict):
        raise UserInputError("[tolerance] must be a table")
    known = [field.name for field in fields(Tolerance)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise UserInputError(f"unknown [tolerance] setting {unknown[0]}; known: {', '.join(known)}")
    tolerance = Tolerance(**table)
    check_field_types(tolerance, "tolerance")
    return tolerance


def _embedding(table: object) -> EmbeddingMethod:
    if not isinstance(table, dict) or "method" not in table:
        raise UserInputError("[embedding] must be a table naming a method")
    settings = dict(table)
    try:
        method = make_method(settings.pop("method"), **settings)
    except TypeError as err:  # a setting the method does not have
        raise UserInputError(f"[embedding]: {err}") from None
    method.check()
    return method
