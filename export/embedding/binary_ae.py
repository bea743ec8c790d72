"""Residual binary autoencoder stages with a direction-aware loss (the trainable half of `lighttoken`).

Each stage learns b bits per token for what the earlier parts left unexplained. Encoder: a linear map whose
sign is the code; training relaxes the sign with a tempered tanh(z/τ) (= 2·sigmoid(2z/τ) − 1), τ annealed from
TAU_START to TAU_END, and passes gradients straight through the hard sign. Stages stop short of saturation: once
SATURATED of the relaxed bits sit within 1% of ±1, gradients through them vanish and further epochs only move
the decoder, so the next stage takes over from there. Only the codes and a linear decoder are kept.

Loss (per token, weighted by how often it occurs in general text):
    (‖x‖ − ‖x̂‖)² + (‖x‖² + ‖x̂‖²)(1 − cos(x, x̂))  ≥  ‖x − x̂‖²
It equals the Euclidean error plus (‖x‖ − ‖x̂‖)²(1 − cos), so it upper-bounds it and charges angle errors more
than length errors: an encoder's LayerNorm largely forgives a wrong length, not a wrong direction.
"""

from __future__ import annotations

import math

import torch

TAU_START, TAU_END = 1.0, 0.1
SATURATED = 0.9
LEARNING_RATE = 3e-3
BATCH = 4096


def direction_aware_loss(x: torch.Tensor, x_hat: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    norm, norm_hat = x.norm(dim=-1), x_hat.norm(dim=-1)
    cos = (x * x_hat).sum(-1) / (norm * norm_hat).clamp_min(1e-8)
    per_token = (norm - norm_hat) ** 2 + (norm**2 + norm_hat**2) * (1 - cos)
    return (weight * per_token).sum() / weight.sum()


def hard_sign(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z >= 0, 1.0, -1.0)


def train_stage(
    table: torch.Tensor, before: torch.Tensor, bits: int, weight: torch.Tensor, epochs: int, generator: torch.Generator
) -> torch.Tensor:
    """±1 codes [vocab, bits] for the residual table − before, trained against the whole reconstruction."""
    residual = table - before
    encoder, decoder = _initial_maps(residual, bits, generator)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=LEARNING_RATE)
    vocab = table.shape[0]
    steps, step = epochs * math.ceil(vocab / BATCH), 0
    for _ in range(epochs):
        saturated = 0.0
        for rows in torch.randperm(vocab, generator=generator).split(BATCH):
            tau = TAU_START * (TAU_END / TAU_START) ** (step / steps)
            z = encoder(residual[rows])
            relaxed = torch.tanh(z / tau)
            codes = hard_sign(z) + relaxed - relaxed.detach()  # straight-through
            loss = direction_aware_loss(table[rows], before[rows] + decoder(codes), weight[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            saturated += float((relaxed.detach().abs() > 0.99).float().sum()) / (vocab * bits)
        if saturated > SATURATED:
            break
    with torch.no_grad():
        return hard_sign(encoder(residual))


def _initial_maps(residual: torch.Tensor, bits: int, generator: torch.Generator):
    """Encoder from the residual's principal directions under a random rotation (ITQ's start), so all bits
    carry variance; decoder fitted to those codes by least squares."""
    dim = residual.shape[1]
    centred = residual - residual.mean(0)
    directions = torch.linalg.svd(centred.double(), full_matrices=False)[2][: min(bits, dim)].float()
    if bits > dim:
        extra = torch.randn(bits - dim, dim, generator=generator) / math.sqrt(dim)
        directions = torch.cat([directions, extra])
    rotation = torch.linalg.qr(torch.randn(bits, bits, generator=generator))[0]
    encoder, decoder = torch.nn.Linear(dim, bits), torch.nn.Linear(bits, dim)
    with torch.no_grad():
        encoder.weight.copy_(rotation @ directions / centred.std())
        encoder.bias.zero_()
        codes = hard_sign(encoder(residual))
        decoder.weight.copy_(torch.linalg.lstsq(codes.double(), centred.double()).solution.T.float())
        decoder.bias.copy_(residual.mean(0))
    return encoder, decoder


def fit_decoder(codes: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least-squares linear decoder (and bias) for fixed ±1 codes: [bits, dim], [dim]."""
    root = weight.double().sqrt()[:, None]
    design = torch.cat([codes.double(), torch.ones(codes.shape[0], 1, dtype=torch.float64)], 1)
    solution = torch.linalg.lstsq(design * root, target.double() * root).solution
    return solution[:-1].float(), solution[-1].float()
