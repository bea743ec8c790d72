"""Export targets, registered by name (selected with --target)."""

from __future__ import annotations

from ..errors import UserInputError
from .base import Target, TargetBuild
from .onnx import OnnxTarget
from .onnx_mobile import OnnxMobileTarget

TARGETS: dict[str, Target] = {t.name: t for t in (OnnxMobileTarget(), OnnxTarget())}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise UserInputError(f"unknown target '{name}'; choose one of: {', '.join(TARGETS)}")
    return TARGETS[name]


__all__ = ["TARGETS", "Target", "TargetBuild", "get_target"]
