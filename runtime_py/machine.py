"""What machine a figure was measured on: int8 kernels and trained fits both depend on the CPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux); platform.processor() elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine() -> dict[str, object]:
    import onnxruntime as ort

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "onnxruntime": ort.__version__, "python": platform.python_version()}  # fmt: skip
