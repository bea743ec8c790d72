"""Convert an .onnx model to .ort, laid out so that the same model gives the same bytes in any process.

ONNX Runtime's converter lays out the file's kernel-type table in an order that follows the process's memory
layout, so the same .onnx converted twice gives differently laid out .ort files (same content: the graph and
the table's entries read back equal) unless the two processes started alike: an ASLR-off child process had made
the bytes repeat on one machine in one environment, but a different PYTHONPATH or Python install, or another
machine, still moved them. ort_layout.canonical_ort rewrites that table in a fixed layout after each conversion,
so the bytes depend on the model alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .ort_layout import canonical_ort

ORT_CONVERT_LEVEL_VARIABLE = "ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL"


def convert_to_ort(onnx_model: Path, ort_path: Path, fold_constants: bool = True) -> bool:
    """Write `onnx_model` as `ort_path`; returns True when its layout was made canonical (the bytes reproducible).
    `fold_constants=False` keeps a subgraph that reads no input as it is (ORT's own conversion would store its
    result instead): for a model run once, whose whole point is to compute its outputs from smaller stored
    tensors."""
    with tempfile.TemporaryDirectory(prefix="bert-edge-ort-") as work:
        converted = Path(work) / "model.ort"
        (_convert if fold_constants else _convert_keeping_constants)(onnx_model, converted)
        canonical = canonical_ort(converted)
        shutil.move(converted, ort_path)
    return canonical


def _convert(onnx_model: Path, ort_path: Path) -> None:
    """ORT's converter (its default "all" optimisations, the Fixed style for arm), from a copy named model.onnx in
    a folder of its own: the converter names its output after its input and writes beside it. The level is pinned:
    the converter reads it from the environment, and any other names the output model.LEVEL.ort (and the bundle
    would depend on the user's shell)."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    source = ort_path.parent / "source"
    source.mkdir()
    shutil.copyfile(onnx_model, source / "model.onnx")
    # the converter prints a line per step
    with contextlib.redirect_stdout(io.StringIO()), _environment(ORT_CONVERT_LEVEL_VARIABLE, "all"):
        convert_onnx_models_to_ort(
            source / "model.onnx", output_dir=source, optimization_styles=[OptimizationStyle.Fixed],
            target_platform="arm",
        )  # fmt: skip
    shutil.move(source / "model.ort", ort_path)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def _convert_keeping_constants(onnx_model: Path, ort_path: Path) -> None:
    """Basic optimisations without constant folding, saved in ORT format (the converter has no switch for that)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(ort_path)
    options.add_session_config_entry("session.save_model_format", "ORT")
    options.log_severity_level = 3
    ort.InferenceSession(str(onnx_model), options, providers=["CPUExecutionProvider"],
                         disabled_optimizers=["ConstantFolding"])  # fmt: skip
