"""Refuse a settings dataclass whose values are not of the types its fields declare, or a build() argument of the
wrong type (a Python caller can pass anything; the CLI's parsers and the presets' TOML already give the right
types), before any heavy work: without this, `LightToken(ratio=None)` or `DistillConfig(steps=1.5)` fail minutes
later, deep inside torch or numpy, and `build(target=["onnx"])` with a bare TypeError."""

from __future__ import annotations

from dataclasses import fields
from numbers import Real
from os import PathLike
from pathlib import Path

from runtime_py.arguments import whole_number

from .errors import UserInputError


def as_float(value: object) -> object:
    """A Python int where a float is meant (rest=50, ratio=25) as the float the flag gives (--vocab-rest 50: 50.0),
    so the report and a search's fingerprint read the same; anything else as it is, for the type checks to judge."""
    return float(value) if whole_number(value) else value


KINDS = {  # a declared type (as `from __future__ import annotations` leaves it: a string) → (test, what it means)
    "int": (whole_number, "a whole number"),
    "float": (lambda v: isinstance(v, Real) and not isinstance(v, bool), "a number"),  # ranges: each setting's
    "bool": (lambda v: isinstance(v, bool), "True or False"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "Path": (lambda v: isinstance(v, Path), "a path"),
    "PathLike": (lambda v: isinstance(v, (str, PathLike)), "a path"),  # an argument build() turns into a Path
    "None": (lambda v: v is None, "None"),
}


def check_value(value: object, declared: str, label: str) -> None:
    """UserInputError unless `value` is of one of the kinds `declared` names ("float | None", "PathLike | None");
    a declaration naming a type this module does not test (a method, a config) is left to that type's checks."""
    names = declared.split(" | ")
    if any(name not in KINDS for name in names):
        return
    if not any(KINDS[name][0](value) for name in names):
        raise UserInputError(f"{label} must be {' or '.join(KINDS[name][1] for name in names)} (got {value!r})")


def check_field_types(settings: object, label: str) -> None:
    """UserInputError naming the first field of `settings` (a dataclass) whose value its declared type refuses;
    `label` names the settings in the message ("lighttoken", "distill"). Ranges (NaN included) are left to the
    settings' own checks, which name the flag where there is one."""
    for field in fields(settings):
        check_value(getattr(settings, field.name), str(field.type), f"{label} {field.name}")
