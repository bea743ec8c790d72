"""The two ways an export ends early on purpose; anything else is a bug and keeps its traceback."""

from __future__ import annotations


class UserInputError(Exception):
    """Bad input from the user (preset, checkpoint, flags, output folder): exit code 2, nothing written."""

    exit_code = 2


class ParityError(Exception):
    """The exported bundle strays from PyTorch further than the int8 baseline does, by more than the preset's margin:
    exit code 1."""

    exit_code = 1
