"""What every encoder quantization mode provides. One file per mode (int8_dynamic.py, none.py), registered in
__init__.py."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar


class Quantization(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    # SmoothQuant-style rescaling (smooth.py) lowers this mode's error; the smooth stage runs only before it
    smoothable: ClassVar[bool] = False

    @abstractmethod
    def quantize(self, onnx_model: Path, keep: list[str], out: Path) -> Path:
        """Write the quantized model to `out`, leaving the nodes named in `keep` (compressed parts) alone."""
