"""What each of the encoder's linear layers reads: the second moment Σ = E[xᵀx] of its input over the real
(unpadded) tokens of calibration text.

A factorisation fitted to the weights alone spends its rank on directions of W that the inputs barely excite.
Weighted by Σ, the error a fit minimises, tr((W − Ŵ)ᵀ Σ (W − Ŵ)) = E‖x·W − x·Ŵ‖², is the layer's output error on
that text: lowrank fits a whitened SVD (as SVD-LLM does), tucker refines its HOOI start by alternating least squares
(tucker_fit.py). The calibration text is --distill's (training passages, drawn by the seed) or, without it, a few
built-in sentences. What it changes: docs/encoder.md.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .base import encoder_of, linear_layers

CALIBRATION_PASSAGES = 512  # about 10,000 SST-2 tokens: enough for a well-conditioned Σ of a 1,536-wide input
RIDGE = 1e-6  # times Σ's mean diagonal, added to it: Cholesky needs Σ positive definite

InputMoments = dict[str, torch.Tensor]  # linear layer's dotted name within the encoder → Σ, float64 [in, in]


def input_moments(model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> InputMoments:
    """Σ of every linear layer of `model`'s encoder, over the real tokens of `batches` (model inputs with an
    attention_mask), the model in eval mode."""
    layers = linear_layers(encoder_of(model))
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    real: list[torch.Tensor] = []  # the current batch's attention mask, as bools

    def record(name: str):
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].detach().double()
            rows = x[real[0]] if x.shape[:-1] == real[0].shape else x.reshape(-1, x.shape[-1])
            sums[name] = sums.get(name, 0) + rows.T @ rows
            counts[name] = counts.get(name, 0) + len(rows)

        return hook

    handles = [layer.register_forward_pre_hook(record(name)) for name, layer in layers.items()]
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for inputs in batches:
                real[:] = [inputs["attention_mask"].bool()]
                model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
    moments = {name: sums[name] / counts[name] for name in sums}
    return {name: sigma + RIDGE * sigma.diagonal().mean() * torch.eye(len(sigma), dtype=sigma.dtype)
            for name, sigma in moments.items()}  # fmt: skip


def weighted_error(weight_t: torch.Tensor, approximation: torch.Tensor, sigma: torch.Tensor) -> float:
    """E‖x·(W − Ŵ)‖² / E‖x·W‖² for x of second moment Σ; weights as [in, out] (a figure: no gradient kept)."""
    weight_t, approximation = weight_t.detach(), approximation.detach()
    difference = weight_t - approximation
    return float(torch.trace(difference.T @ sigma @ difference) / torch.trace(weight_t.T @ sigma @ weight_t))
