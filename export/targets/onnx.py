"""`onnx`: the plain .onnx file, for desktop, server and onnxruntime-web."""

from __future__ import annotations

import shutil
from pathlib import Path

from .base import Target


class OnnxTarget(Target):
    name = "onnx"
    summary = "plain model.onnx (desktop, server, onnxruntime-web)"
    model_file = "model.onnx"

    def write_model(self, onnx_model: Path, path: Path) -> bool:
        shutil.copyfile(onnx_model, path)
        return True
