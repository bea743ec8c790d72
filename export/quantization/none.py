"""none: the encoder keeps its fp32 weights (the compressed parts keep their own forms)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .base import Quantization


class NoQuantization(Quantization):
    name = "none"
    summary = "keep fp32 weights"

    def quantize(self, onnx_model: Path, keep: list[str], out: Path) -> Path:
        shutil.copyfile(onnx_model, out)
        return out
