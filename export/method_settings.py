"""What the embedding and encoder registries share: a method is a frozen dataclass whose fields are its settings
(a `ratio` field when a flag sizes it), so presets, flags and Python callers set them the same way and
report.json records them; `make` builds one by name from its registry."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from .errors import UserInputError
from .typed_fields import check_field_types, plain_fields


@dataclass(frozen=True)
class MethodSettings:
    name: ClassVar[str]
    summary: ClassVar[str]
    ratio_flag: ClassVar[str]  # the flag that sets `ratio`

    def __post_init__(self) -> None:
        plain_fields(self)  # a TOML or Python int ratio: stored and reported as a float

    @classmethod
    def sized(cls) -> bool:
        """Does the ratio flag set this method's size? (Methods without a `ratio` field have a fixed size.)"""
        return any(f.name == "ratio" for f in fields(cls))

    def check(self) -> None:
        """Refuse settings no model can use, before any heavy work."""
        check_field_types(self, self.name)
        ratio = getattr(self, "ratio", None)
        if ratio is not None and (not math.isfinite(ratio) or ratio <= 1):
            raise UserInputError(f"{self.ratio_flag} must be a number greater than 1 (got {ratio})")

    def to_json(self) -> dict[str, Any]:
        return {"method": self.name, **asdict(self)}


Method = TypeVar("Method", bound=MethodSettings)


def registered(registry: dict[str, type[Method]], kind: str, name: str) -> type[Method]:
    if name not in registry:
        raise UserInputError(f"unknown {kind} method '{name}'; choose one of: {', '.join(registry)}")
    return registry[name]


def make(registry: dict[str, type[Method]], kind: str, name: str, **settings: Any) -> Method:
    """The method called `name` with `settings` over its defaults, checked."""
    method_type = registered(registry, kind, name)
    known = {f.name for f in fields(method_type)}
    unknown = sorted(set(settings) - known)
    if "ratio" in unknown:
        raise UserInputError(f"{method_type.ratio_flag} does not apply to --{kind} {name} (its size is fixed)")
    if unknown:
        raise UserInputError(f"{name} has no setting {', '.join(unknown)} (its settings: {', '.join(known) or 'none'})")
    method = method_type(**settings)
    method.check()
    return method
