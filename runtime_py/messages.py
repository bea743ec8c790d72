"""Errors as the one line a user sees (exit code 2, no traceback): a message with a line break inside a value, a
library's own error quoted by its first line, and bad command-line arguments (both command lines, runtime_py's and
the exporter's)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

FIRST_LINE_CHARS = 300  # a library's first line can list every value it knows (transformers: 300 model types)


def one_line(message: str) -> str:
    """An error message as the one line it is meant to be: a line break inside a quoted path or value written as
    \\n (a folder name may hold one)."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def first_line(err: BaseException) -> str:
    """A library error's first line, cut at FIRST_LINE_CHARS: what one line of our own error message quotes. A
    first line that ends in ":" (torch's "Error(s) in loading state_dict for Embedding:") goes on with the next."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    line = lines[0] if lines else type(err).__name__
    if line.endswith(":") and len(lines) > 1:
        line = f"{line} {lines[1]}"
    return line if len(line) <= FIRST_LINE_CHARS else line[:FIRST_LINE_CHARS] + " …"


class OneLineParser(argparse.ArgumentParser):
    """argparse that refuses bad arguments in one line (it prints the whole usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {one_line(message)} (see --help)", file=sys.stderr)
        raise SystemExit(2)
