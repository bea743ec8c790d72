"""Checks of the Python API's count arguments (batch_size, k, probes; session.check_threads for threads): a wrong
type or value fails at the call with its name, not later as a comparison error from inside Python, numpy or
onnxruntime."""

from __future__ import annotations

from numbers import Integral


def whole_number(value: object) -> bool:
    """An int or numpy integer; bool is not one."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def count_at_least(value: object, name: str, minimum: int) -> int:
    """`value` as an int: TypeError unless it is a whole number, ValueError below `minimum`."""
    if not whole_number(value):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return int(value)
