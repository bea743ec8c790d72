"""The target interface: turn the quantized ONNX model into the files an app ships."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class ModelFiles:
    """A model on disk as ONNX Runtime runs it: its file, and its load-time weights model when it has one
    (load_time_decode.py: run once at load, its outputs passed to every call)."""

    model: Path
    weights: Path | None = None

    @property
    def paths(self) -> list[Path]:
        """What ships as the model: the model file, and the weights model when there is one."""
        return [self.model, *([self.weights] if self.weights else [])]

    @property
    def bytes(self) -> int:
        return sum(path.stat().st_size for path in self.paths)


@dataclass
class TargetBuild:
    model_file: str  # name inside the bundle
    model_format: str  # "ort" or "onnx"
    extra_files: list[str] = field(default_factory=list)
    operator_check: dict[str, Any] | None = None
    reproducible: bool = True  # the same model gives the same file bytes (see ort_layout.py)
    weights_file: str | None = None  # the load-time decode's model (load_time_decode.py), when there is one

    @property
    def model_files(self) -> list[str]:
        """The model file, and the load-time weights model when there is one: what ships as the model."""
        return [self.model_file, *([self.weights_file] if self.weights_file else [])]

    def files_in(self, folder: Path) -> ModelFiles:
        return ModelFiles(folder / self.model_file, folder / self.weights_file if self.weights_file else None)


class Target(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    model_file: ClassVar[str]  # the model's name inside a bundle; its suffix is the format

    @abstractmethod
    def write_model(self, onnx_model: Path, path: Path) -> bool:
        """Write the model in this target's format; True when the bytes are reproducible."""

    def build(self, onnx_model: Path, bundle_dir: Path, decode_at_load: bool = False) -> TargetBuild:
        """Write the model (and any side files) into bundle_dir. `decode_at_load`: the graph holds a weight decode
        (or tensors computed from weights alone, larger than they are) that must run once at load, not be folded
        into the file (a target that loads `.onnx` lets ONNX Runtime fold it at load)."""
        reproducible = self.write_model(onnx_model, bundle_dir / self.model_file)
        return TargetBuild(self.model_file, Path(self.model_file).suffix[1:], reproducible=reproducible)
