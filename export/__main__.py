"""`python -m export` and the bert-edge-export script: see cli.py. The process entry also turns the signals that end
a run into exceptions, so the staging folder (bundle.py) is removed on the way out and nothing half-written is left
beside --out."""

from __future__ import annotations

import signal
import sys

from .cli import main


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (kill, timeout(1), a cancelled CI job) and SIGHUP (a closed terminal) unwind like an exception
    instead of ending the process where it stands; the exit status stays the shell's 128 + signal."""
    raise SystemExit(128 + signum)


def run() -> None:
    """The process entry of both launchers (pyproject.toml's script points here, not at cli.main)."""
    for name in ("SIGTERM", "SIGHUP"):  # SIGHUP: not on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminated)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)


if __name__ == "__main__":
    run()
