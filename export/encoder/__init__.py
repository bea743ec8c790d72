"""Encoder methods, registered by name (selected with --encoder, sized by --encoder-ratio). Each is one file: a
frozen dataclass of its settings with `compress` and `shipped` (the PyTorch side) and `quantize` (the ONNX side)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..errors import UserInputError
from ..method_settings import make, registered
from .base import EncoderMethod, encoder_of, linear_layers
from .int4 import Int4Encoder
from .int4_as_int8 import Int4AsInt8
from .int8 import Int8Encoder
from .lowrank import LowRank
from .none import FullPrecision
from .tucker import Tucker

ENCODERS: dict[str, type[EncoderMethod]] = {
    m.name: m for m in (Int8Encoder, Int4Encoder, Int4AsInt8, Tucker, LowRank, FullPrecision)
}
DEFAULT_ENCODER = "int8"


SETTING_FLAGS = {"calibrate": "--encoder-calibrate", "share": "--encoder-share"}  # settings only some methods take


def make_encoder(name: str = DEFAULT_ENCODER, **settings: Any) -> EncoderMethod:
    """The encoder method called `name` with `settings` over its defaults (--encoder-ratio sets `ratio`,
    --encoder-calibrate `calibrate`, --encoder-share `share`)."""
    for setting, flag in SETTING_FLAGS.items():
        takers = [n for n, m in ENCODERS.items() if any(f.name == setting for f in fields(m))]
        if setting in settings and name not in takers:
            registered(ENCODERS, "encoder", name)
            raise UserInputError(f"{flag} applies to --encoder {' or '.join(takers)}, not to {name}")
    return make(ENCODERS, "encoder", name, **settings)


__all__ = [
    "DEFAULT_ENCODER",
    "ENCODERS",
    "EncoderMethod",
    "FullPrecision",
    "Int4AsInt8",
    "Int4Encoder",
    "Int8Encoder",
    "LowRank",
    "Tucker",
    "encoder_of",
    "linear_layers",
    "make_encoder",
]
