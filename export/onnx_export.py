"""The export stage: trace the model (compressed embedding and task head included) to ONNX.

Uses torch.onnx.export with the TorchScript exporter (dynamo=False) rather than optimum's exporter: our module
is the HF model wrapped with a task head and a swapped-in embedding module, which optimum's exporter does not
model, and the TorchScript exporter keeps module-scoped node names that the quantizer and the size report rely
on. The architecture's input names still come from optimum's per-architecture configs (architectures.py), and
the baseline is built with optimum's exporter itself (baseline.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from .onnx_graph import Scope, bypass_weight_copies
from .probes import model_inputs

# Two texts of different lengths so the traced graph sees padding; the axes are dynamic anyway.
_TRACE_TEXTS = ["a short text", "a somewhat longer text that needs a few more tokens to encode"]


def export_onnx(
    module: nn.Module,
    tokenizer,
    input_names: list[str],
    output_name: str,
    path: Path,
    opset: int,
) -> None:
    encoded = tokenizer(_TRACE_TEXTS, padding=True, return_tensors="pt")
    args = tuple(model_inputs(encoded, input_names).values())
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    dynamic_axes[output_name] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about python-level shape checks in HF code
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    model = onnx.load(str(path))
    if bypass_weight_copies(model):
        onnx.save(model, str(path))


def scope_of(root: nn.Module, part: nn.Module) -> Scope:
    """Where `part`, a submodule of the exported module `root`, sits in the graph (torch.onnx names each node
    after the module path it came from)."""
    for name, module in root.named_modules():
        if module is part:
            return Scope(name)
    raise ValueError(f"{type(part).__name__} is not part of the exported module")
