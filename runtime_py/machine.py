"""What machine a figure was measured on: int8 kernels and trained fits both depend on the CPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The instruction sets int8 kernels choose between, widest first: they decide the rounding of int8 products
# (without VNNI, ORT's uint8 x int8 kernel sums pairs in 16 bits: docs/parity.md); on arm64, the matrix and dot
# product instructions (i8mm, asimddp: /proc/cpuinfo's "Features")
INT8_INSTRUCTIONS = ("avx512_vnni", "avx_vnni", "avx512bw", "avx2", "i8mm", "asimddp")


def cpu_name(cpuinfo: str | None = None) -> str:
    """The CPU as `lscpu` tells it apart (Linux; `cpuinfo`: /proc/cpuinfo's text, read when None): its model name,
    family and model (arm64, which has no model name: its implementer and part), and the widest int8 instruction
    set it has ("AMD EPYC (family 25, model 1; avx2)"): one model name covers CPUs whose int8 kernels round
    differently. platform.processor() elsewhere."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if not path.exists():
            return platform.processor()
        cpuinfo = path.read_text()
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if not name.strip():
            if fields:
                break  # the first processor's block is enough
            continue
        fields.setdefault(name.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features", "")).split())
    widest = next((f for f in INT8_INSTRUCTIONS if f in flags), None)
    if "cpu family" in fields:
        details = [f"family {fields['cpu family']}, model {fields['model']}"]
    elif "CPU part" in fields:
        details = [f"implementer {fields.get('CPU implementer', '?')}, part {fields['CPU part']}"]
    else:
        details = []
    details += [widest] if widest else []
    name = fields.get("model name") or platform.processor() or platform.machine()
    return f"{name} ({'; '.join(details)})" if details else name


def machine() -> dict[str, object]:
    import onnxruntime as ort

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "onnxruntime": ort.__version__, "python": platform.python_version()}  # fmt: skip
