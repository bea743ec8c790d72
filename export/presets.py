"""Model presets: one TOML file per family in models/ (shipped as the export.model_presets package data)."""

from __future__ import annotations

import tomllib
from importlib import resources

from .config import Preset, Tolerance
from .embedding import EmbeddingMethod, make_method
from .errors import UserInputError


def _preset_files() -> dict[str, resources.abc.Traversable]:
    folder = resources.files("export.model_presets")
    return {f.name.removesuffix(".toml"): f for f in folder.iterdir() if f.name.endswith(".toml")}


def preset_names() -> list[str]:
    return sorted(_preset_files())


def load_preset(name: str) -> Preset:
    files = _preset_files()
    if name not in files:
        raise UserInputError(f"unknown preset '{name}'; choose one of: {', '.join(sorted(files))}")
    data = tomllib.loads(files[name].read_text(encoding="utf-8"))
    return Preset(
        name=name,
        description=data["description"],
        model_types=tuple(data["model_types"]),
        checkpoint=data["checkpoint"],
        pooling=data["pooling"],
        max_length=int(data["max_length"]),
        tolerance=Tolerance(**data.get("tolerance", {})),
        embedding=_embedding(data["embedding"]),
    )


def _embedding(table: dict) -> EmbeddingMethod:
    settings = dict(table)
    return make_method(settings.pop("method"), **settings)
