"""Run a command; write its wall time and peak resident memory as JSON. Standard library only, on purpose.

    python benchmarks/peak_rss.py RESULT.json -- COMMAND [ARG ...]

Linux keeps the larger of a process's peak memory and that of the process it was forked from across exec, so a
command started straight from a big benchmark process (torch loaded) would report the benchmark's size. This
small interpreter forks the command instead, and os.wait4 gives the command's peak, the processes it waited
for included. The exit code is the command's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    arguments = sys.argv[1:]
    if len(arguments) < 3 or arguments[1] != "--":  # --help too: the usage is the docstring
        print(__doc__, file=sys.stderr)
        return 2
    result, _, *command = arguments
    start = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)  # reaped here, so the usage is ours to read
    child.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss / 1e6 if sys.platform == "darwin" else usage.ru_maxrss * 1024 / 1e6  # bytes / KiB
    with open(result, "w", encoding="utf-8") as f:
        json.dump({"seconds": time.perf_counter() - start, "peak_rss_mb": peak}, f)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
