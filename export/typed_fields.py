"""Refuse a settings dataclass whose values are not of the types its fields declare (a Python caller can pass
anything; the CLI's parsers and the presets' TOML already give the right types), before any heavy work: without
this, `LightToken(ratio=None)` or `DistillConfig(steps=1.5)` fail minutes later, deep inside torch or numpy."""

from __future__ import annotations

from dataclasses import fields
from numbers import Integral, Real
from pathlib import Path

from .errors import UserInputError


def whole_number(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


KINDS = {  # a declared type (as `from __future__ import annotations` leaves it: a string) → (test, what it means)
    "int": (whole_number, "a whole number"),
    "float": (lambda v: isinstance(v, Real) and not isinstance(v, bool), "a number"),  # ranges: each setting's
    "bool": (lambda v: isinstance(v, bool), "True or False"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "Path": (lambda v: isinstance(v, Path), "a path"),
}


def check_field_types(settings: object, label: str) -> None:
    """UserInputError naming the first field of `settings` (a dataclass) whose value its declared type refuses;
    `label` names the settings in the message ("lighttoken", "distill"). Fields of other types are left alone, and
    so are ranges (NaN included): the settings' own checks refuse those, naming the flag where there is one."""
    for field in fields(settings):
        declared = str(field.type)
        optional = declared.endswith(" | None")
        kind = KINDS.get(declared.removesuffix(" | None"))
        value = getattr(settings, field.name)
        if kind is None or (optional and value is None):
            continue
        test, meaning = kind
        if not test(value):
            raise UserInputError(f"{label} {field.name} must be {meaning}{' or None' if optional else ''} "
                                 f"(got {value!r})")  # fmt: skip
