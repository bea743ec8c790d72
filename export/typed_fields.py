"""Refuse a settings dataclass whose values are not of the types its fields declare, or a build() argument of the
wrong type (a Python caller can pass anything; the CLI's parsers and the presets' TOML already give the right
types), before any heavy work: without this, `LightToken(ratio=None)` or `DistillConfig(steps=1.5)` fail minutes
later, deep inside torch or numpy, and `build(target=["onnx"])` with a bare TypeError."""

from __future__ import annotations

from dataclasses import fields
from numbers import Integral, Real
from os import PathLike
from pathlib import Path

from runtime_py.arguments import whole_number

from .errors import UserInputError


def plain_fields(settings: object) -> None:
    """Store each number field of `settings` (a dataclass, in its __post_init__) as the Python number its declared
    type names: an int where a float is meant (rest=50, ratio=25) as the float the flag gives (--vocab-rest 50: 50.0),
    so the report and a search's fingerprint read the same, and a numpy scalar (`for seed in np.arange(5)`) as the
    int or float it holds, which report.json's writer can write. Anything else stays as it is, for the type checks."""
    for field in fields(settings):
        value, names = getattr(settings, field.name), str(field.type).split(" | ")
        if isinstance(value, bool):  # an int to Python, but no number here: the type checks refuse it
            continue
        if "float" in names and isinstance(value, Real):
            object.__setattr__(settings, field.name, float(value))
        elif "int" in names and isinstance(value, Integral):
            object.__setattr__(settings, field.name, int(value))


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
