"""Checks of the Python API's count arguments (batch_size, k, probes): a wrong type or value fails at the call
with its name, not later as a comparison error from inside Python, numpy or onnxruntime."""

from __future__ import annotations

from numbers import Integral


def count_at_least(value: object, name: str, minimum: int) -> int:
    """`value` as an int: TypeError unless it is a whole number (bool is not), ValueError below `minimum`."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return int(value)
