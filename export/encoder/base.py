"""The encoder-method interface (--encoder METHOD [--encoder-ratio R]): how the encoder's linear layers are stored.

A method works in three places. `compress` changes the PyTorch model before export (a low-rank or Tucker
factorisation, or weights rounded to the grid the shipped form stores), so distillation can heal it; `shipped`
turns the (possibly trained) model into exactly what is exported, so export parity holds the bundle to the model
it really ships; `quantize` writes the ONNX form (dynamic int8, 4-bit
MatMulNBits, ...). Every method leaves the compressed token table's own nodes alone (`keep`).
One file per method, registered in __init__.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from ..errors import UserInputError
from ..method_settings import MethodSettings

if TYPE_CHECKING:
    from .calibration import InputMoments


@dataclass(frozen=True)
class EncoderMethod(MethodSettings, ABC):
    """An encoder method with its settings (method_settings.py: fields are hyperparameters, a `ratio` field when
    --encoder-ratio sizes it), recorded in report.json and bundle.json."""

    ratio_flag = "--encoder-ratio"
    # Does the shipped encoder compute something other than the original weights up to int8 rounding? A lossy
    # encoder is one more lossy part for export parity's margin (config.Tolerance.margin_for).
    lossy: ClassVar[bool] = False
    # SmoothQuant-style rescaling (smooth.py) lowers the error of the dynamic int8 pass this method ends with
    smoothable: ClassVar[bool] = False
    # --distill's learning rate with this method: a factorised encoder starts much further from the original
    # than one whose only change is the table, and heals faster with larger steps (docs/encoder.md)
    distill_learning_rate: ClassVar[float] = 1e-4
    # the rate by task (Task.name) where it differs: a pair model (a cross-encoder) must relearn the attention
    # between its two texts, and at a single-text model's rate it barely moves in the same steps (docs/encoder.md)
    distill_learning_rate_by_task: ClassVar[Mapping[str, float]] = MappingProxyType({})
    # --distill also matches the last layer's attention distributions (the paper's recovery loss): a method that
    # rebuilds the attention projections, not one that only rounds them
    distill_attention: ClassVar[bool] = False
    # --distill on an embedder also matches its sentence embeddings and their similarities: a rebuilt encoder's
    # hidden-state error can be small where the normalised embedding's direction is far off (docs/encoder.md)
    distill_sentence: ClassVar[bool] = False
    # the quantized graph holds a weight decode that reads no input and must run once at load, not be folded
    # into the model file: a `.ort` target ships it as a second model (targets/load_time_decode.py)
    decodes_at_load: ClassVar[bool] = False

    def distill_rate(self, task: str) -> float:
        """--distill's learning rate with this method for a model of `task` when --distill-lr is not given."""
        return self.distill_learning_rate_by_task.get(task, self.distill_learning_rate)

    @property
    def calibrated(self) -> bool:
        """compress() takes the second moments of each linear layer's input on calibration text (calibration.py):
        a factorisation fitted to what the layers read, not to the weights alone."""
        return False

    def compress(self, encoder: nn.Module, seed: int, moments: InputMoments | None = None) -> dict[str, Any]:
        """Change `encoder` (the model's transformer layers, a copy) in place into what this method ships;
        returns facts for the report. `moments`: for a `calibrated` method, Σ of each linear layer's input by
        its name within `encoder`. Default: nothing to change."""
        return {}

    def shipped(self, model: nn.Module) -> nn.Module:
        """The model as it is exported, after compress and any training: a changed copy (int4 rounds onto its grid
        again, tucker folds its cores into constants), or `model` itself when nothing changes."""
        return model

    @abstractmethod
    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        """Write the shipped ONNX form to `out`. `keep`: nodes no pass may rewrite (the compressed table's);
        `encoder_nodes`: the encoder's own nodes; `facts`: what `compress` returned."""


def encoder_of(model: nn.Module) -> nn.Module:
    """The transformer layers of an HF model: `encoder` (BERT, RoBERTa, XLM-R, ELECTRA, DeBERTa-v2) or
    `transformer` (DistilBERT)."""
    base = model.base_model
    for name in ("encoder", "transformer"):
        if isinstance(getattr(base, name, None), nn.Module):
            return getattr(base, name)
    raise UserInputError(f"{type(base).__name__} has no encoder or transformer module to compress")


def linear_layers(encoder: nn.Module) -> dict[str, nn.Linear]:
    """The encoder's linear layers by dotted name (Q, K, V, attention output, FFN in and out of every layer)."""
    return {name: module for name, module in encoder.named_modules() if isinstance(module, nn.Linear)}


def linear_layers_to_compress(encoder: nn.Module) -> dict[str, nn.Linear]:
    """linear_layers(), refused in one line when there are none (a method would have nothing to compress)."""
    layers = linear_layers(encoder)
    if not layers:
        raise UserInputError(f"{type(encoder).__name__} has no linear layers for an encoder method to compress")
    return layers


def replace_module(root: nn.Module, name: str, replacement: nn.Module) -> None:
    """Put `replacement` where the submodule at dotted `name` is."""
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, replacement)
