"""`lowrank`: every encoder linear layer as its own truncated SVD (two thin MatMuls; by default, `calibrate`, the SVD
whitened by the layer's input moments on calibration text), int8 on top; the baseline `tucker` must beat at equal
bytes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import UserInputError
from .base import EncoderMethod, linear_layers_to_compress, replace_module
from .calibration import InputMoments, weighted_error
from .factorized import LowRankLinear
from .int8 import quantize_int8


def rank_for(layer: nn.Linear, ratio: float) -> int:
    """The largest rank whose two factors hold at most 1/ratio of the layer's weights (0: not even rank 1 fits), as
    tucker's rank_for: a nearer rank above the budget would ship a lower ratio than asked (rank 1 for 300x on a
    384x384 layer is 192x) and give the baseline tucker is measured against more bytes than tucker."""
    return math.floor(layer.in_features * layer.out_features / ratio / (layer.in_features + layer.out_features))


@dataclass(frozen=True)
class LowRank(EncoderMethod):
    name = "lowrank"
    summary = "each linear layer as a truncated SVD at 1/R of its weights, int8 on top (--encoder-ratio R)"
    lossy = True
    distill_learning_rate = 5e-4
    distill_attention = True
    distill_sentence = True
    ratio: float = 4.0
    # fit the factors to each layer's output error on calibration text (--distill's), not to the weights alone:
    # a better start in every measured seed, far better without --distill (docs/encoder.md)
    calibrate: bool = True

    @property
    def calibrated(self) -> bool:
        return self.calibrate

    def compress(self, encoder: nn.Module, seed: int, moments: InputMoments | None = None) -> dict[str, Any]:
        layers = linear_layers_to_compress(encoder)
        ranks, errors = {}, []
        for name, layer in layers.items():
            ranks[name] = rank_for(layer, self.ratio)
            full = layer.in_features * layer.out_features / (layer.in_features + layer.out_features)
            if not 1 <= ranks[name] < full:
                raise UserInputError(f"--encoder-ratio {self.ratio:g} gives lowrank no rank between 1 and "
                                     f"{int(full)} for {name}")  # fmt: skip
            sigma = None if moments is None else moments[name]
            factorized = LowRankLinear(layer, ranks[name], sigma)
            if sigma is not None:
                errors.append(weighted_error(layer.weight.detach().double().T, factorized.product().double().T, sigma))
            replace_module(encoder, name, factorized)
        facts: dict[str, Any] = {"layers": len(layers), "ranks": sorted(set(ranks.values()))}
        if errors:  # mean over layers of E‖x·(W − Ŵ)‖² / E‖x·W‖² on the calibration text
            facts["output_error"] = round(sum(errors) / len(errors), 4)
        return facts

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        return quantize_int8(onnx_model, keep, out)
