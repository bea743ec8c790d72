"""`none`: the encoder keeps its fp32 weights (the compressed table keeps its own form)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import EncoderMethod


@dataclass(frozen=True)
class FullPrecision(EncoderMethod):
    name = "none"
    summary = "keep fp32 weights"

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        shutil.copyfile(onnx_model, out)
        return out
