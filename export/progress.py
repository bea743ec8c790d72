"""Progress display: a spinner while a stage runs, a ✓ line with its time when it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.status import Status


class Stages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, detail: str = "") -> Iterator[Status]:
        """Yields the spinner, whose text a long stage may update (status.update(...)) as it goes."""
        start = time.perf_counter()
        shown = escape(detail)  # paths and names the user gave: a folder "[v2]" is not markup
        with self.console.status(f"{name} {shown}".strip() + " …") as status:
            yield status
        self.seconds[name] = time.perf_counter() - start
        self.console.print(f"[green]✓[/] {name:<10} [dim]{self.seconds[name]:5.1f} s  {shown}[/]")
