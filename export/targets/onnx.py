"""`onnx`: the plain .onnx file, for desktop, server and onnxruntime-web."""

from __future__ import annotations

import shutil
from pathlib import Path

from .base import Target, TargetBuild


class OnnxTarget(Target):
    name = "onnx"
    summary = "plain model.onnx (desktop, server, onnxruntime-web)"

    def build(self, onnx_model: Path, bundle_dir: Path) -> TargetBuild:
        shutil.copyfile(onnx_model, bundle_dir / "model.onnx")
        return TargetBuild(model_file="model.onnx", model_format="onnx")
