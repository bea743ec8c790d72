"""What machine a figure was measured on: int8 kernels and trained fits both depend on the CPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The x86 instruction sets int8 kernels choose between, widest first: they decide the rounding of int8 products
# (without VNNI, ORT's uint8 x int8 kernel sums pairs in 16 bits: docs/parity.md)
INT8_INSTRUCTIONS = ("avx512_vnni", "avx_vnni", "avx512bw", "avx2")


def cpu_name() -> str:
    """The CPU as `lscpu` tells it apart (Linux): its model name, family and model, and the widest int8 instruction
    set it has ("AMD EPYC (family 25, model 1; avx2)"): one model name covers CPUs whose int8 kernels round
    differently. platform.processor() elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return platform.processor()
    fields: dict[str, str] = {}
    for line in cpuinfo.read_text().splitlines():
        name, _, value = line.partition(":")
        if not name.strip():
            break  # the first processor's block is enough
        fields.setdefault(name.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    widest = next((f for f in INT8_INSTRUCTIONS if f in flags), None)
    details = [f"family {fields['cpu family']}, model {fields['model']}"] if "cpu family" in fields else []
    details += [widest] if widest else []
    name = fields.get("model name", platform.processor())
    return f"{name} ({'; '.join(details)})" if details else name


def machine() -> dict[str, object]:
    import onnxruntime as ort

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "onnxruntime": ort.__version__, "python": platform.python_version()}  # fmt: skip
