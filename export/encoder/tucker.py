"""`tucker`: the encoder's linear weights cut into D×D blocks (D the hidden size) that share two factors, after Wang,
Ren et al., "Exploring extreme parameter compression for pre-trained language models" (ICLR 2022): W_i ≈ U · C_i ·
V, with C_i = Σ_k P[i, k] · G_k (form IV, a bank of `bank` cores; form III when the bank has a core per block, the
default). `share` says which blocks share U and V: all of the encoder's (the paper), or each transformer layer's own
(more bytes in the factors, so a smaller r and fewer multiply-adds at the same ratio). Initialised from a Tucker
decomposition of the stacked trained blocks (HOSVD refined by two HOOI sweeps, own code: a few symmetric
eigenproblems of D×D), then by default (`calibrate`) refined on calibration text to each layer's output
(tucker_fit.py), int8 on top. Shipped bytes: U and V once per group, and every block's folded core C_i (r×r);
a layer costs a·D·r + a·b·r² + b·r·D multiply-adds a token against a·b·D² (factorized.TuckerLinear). Accuracy needs
healing: `--distill`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from ..errors import UserInputError
from .base import EncoderMethod, linear_layers_to_compress, replace_module
from .calibration import InputMoments
from .factorized import TuckerFactors, TuckerLinear
from .int8 import quantize_int8
from .tucker_fit import WeightedLayer, refine

HOOI_SWEEPS = 2
SHARES = ("encoder", "layer")


def blocks_of(weight: torch.Tensor, width: int) -> torch.Tensor:
    """nn.Linear's weight [out, in] as [a, b, D, D] blocks of its [in, out] transpose (a = in/D, b = out/D)."""
    transposed = weight.detach().double().T
    a, b = transposed.shape[0] // width, transposed.shape[1] // width
    return transposed.reshape(a, width, b, width).permute(0, 2, 1, 3)


def rank_for(width: int, blocks: int, dense: int, ratio: float) -> int:
    """The largest r with U, V and the blocks' cores (2·D·r + n·r²) within dense/ratio weights."""
    budget = dense / ratio
    return int((-2 * width + math.sqrt(4 * width * width + 4 * blocks * budget)) / (2 * blocks))


def leading_eigenvectors(gram: torch.Tensor, rank: int) -> torch.Tensor:
    """The `rank` leading eigenvectors of a symmetric matrix, each signed so its largest entry is positive (so
    the result does not depend on the eigensolver's sign choice)."""
    _, vectors = torch.linalg.eigh(gram)
    leading = vectors[:, -rank:].flip(1)
    signs = torch.sign(leading.gather(0, leading.abs().argmax(0, keepdim=True)))
    return leading * signs


def tucker_factors(stacked: torch.Tensor, rank: int, bank: int) -> TuckerFactors:
    """HOSVD + HOOI of the blocks [n, D, D] at ranks (bank, r, r) → float32 factors."""
    u = leading_eigenvectors(torch.einsum("nij,nkj->ik", stacked, stacked), rank)
    v = leading_eigenvectors(torch.einsum("nji,njk->ik", stacked, stacked), rank)
    for _ in range(HOOI_SWEEPS):
        projected = stacked @ v  # [n, D, r]
        u = leading_eigenvectors(torch.einsum("nir,nkr->ik", projected, projected), rank)
        projected = stacked.transpose(1, 2) @ u
        v = leading_eigenvectors(torch.einsum("nir,nkr->ik", projected, projected), rank)
    cores = u.T @ stacked @ v  # [n, r, r]
    if bank >= len(stacked):
        mixing, core_bank = torch.eye(len(stacked), dtype=cores.dtype), cores
    else:
        flat = cores.reshape(len(stacked), -1)
        mixing = leading_eigenvectors(flat @ flat.T, bank)  # [n, l], orthonormal columns
        core_bank = (mixing.T @ flat).reshape(bank, rank, rank)
    return TuckerFactors(u.float(), v.T.float().contiguous(), core_bank.float(), mixing.float())


def factor_groups(layers: dict[str, nn.Linear], share: str) -> list[dict[str, nn.Linear]]:
    """The layers whose blocks share one U and V: all of them ("encoder"), or those of each transformer layer
    ("layer": the first numeric part of the dotted name, as in layer.3.attention.self.query)."""
    if share == "encoder":
        return [layers]
    groups: dict[str, dict[str, nn.Linear]] = {}
    for name, layer in layers.items():
        index = next((part for part in name.split(".") if part.isdigit()), "")
        groups.setdefault(index, {})[name] = layer
    return list(groups.values())


def refined(
    factors: TuckerFactors, group: dict[str, nn.Linear], moments: InputMoments
) -> tuple[TuckerFactors, tuple[float, float]]:
    """HOOI's form-III factors refined on the layers' output error (tucker_fit.py), the cores in the group's block
    order (each layer's blocks row by row); with the mean output error before and after."""
    layers = [WeightedLayer.of(layer.weight.detach().double().T, moments[name]) for name, layer in group.items()]
    fit = refine(factors.u.detach().double(), factors.v.detach().double(), layers)
    cores = torch.cat([cores_of(matrix, factors.rank) for matrix in fit.block_matrices])
    identity = torch.eye(len(cores))
    return TuckerFactors(fit.u.float(), fit.v.float(), cores.float(), identity), (fit.error_before, fit.error_after)


def cores_of(matrix: torch.Tensor, rank: int) -> torch.Tensor:
    """A block matrix M [a·r, b·r] as its a·b cores [r, r], row by row (TuckerLinear.block_matrix's inverse)."""
    a, b = matrix.shape[0] // rank, matrix.shape[1] // rank
    return matrix.reshape(a, rank, b, rank).permute(0, 2, 1, 3).reshape(a * b, rank, rank)


@dataclass(frozen=True)
class Tucker(EncoderMethod):
    name = "tucker"
    summary = ("linear layers as D×D blocks sharing two factors and a core each (Tucker, ICLR 2022) at 1/R of their "
               "weights, int8 on top (--encoder-ratio R; heal with --distill)")  # fmt: skip
    lossy = True
    distill_learning_rate = 1e-3
    distill_learning_rate_by_task = MappingProxyType({"feature-extraction": 1.5e-3, "text-pair-classification": 3e-3})
    distill_attention = True
    distill_sentence = True
    ratio: float = 4.0
    bank: int | None = None  # cores in the bank of each factor group (form IV); None: one per block (form III)
    share: str = "encoder"  # the blocks that share U and V: "encoder" (all, the paper's) or "layer" (each layer's)
    # fit the factors to each layer's output error on calibration text (--distill's), not to the weights alone:
    # a better start in every measured seed, far better without --distill (docs/encoder.md)
    calibrate: bool = True

    @property
    def calibrated(self) -> bool:
        return self.calibrate

    def check(self) -> None:
        super().check()
        if self.bank is not None and self.bank < 1:
            raise UserInputError(f"tucker bank must be at least 1 (got {self.bank})")
        if self.share not in SHARES:
            raise UserInputError(f"tucker share must be one of {', '.join(SHARES)} (got {self.share!r})")
        if self.calibrate and self.bank is not None:
            raise UserInputError("tucker's core bank (form IV) is fitted to the weights alone: leave calibrate "
                                 "off with bank (calibrate=False)")

    def compress(self, encoder: nn.Module, seed: int, moments: InputMoments | None = None) -> dict[str, Any]:
        layers = linear_layers_to_compress(encoder)
        width = min(layer.in_features for layer in layers.values())
        untiled = [f"{name} ({layer.in_features}x{layer.out_features})" for name, layer in layers.items()
                   if layer.in_features % width or layer.out_features % width]  # fmt: skip
        if untiled:  # left dense, the ratio would be missed unsaid
            raise UserInputError(f"tucker cuts every encoder weight into blocks of the narrowest input width, {width}, "
                                 f"which does not tile {untiled[0]}; choose another --encoder (lowrank, int4)")
        encoder.tucker_factors = nn.ModuleList()  # registered once; every TuckerLinear refers to its group's
        errors = []
        for group in factor_groups(layers, self.share):
            factors, error = self.factorize_group(encoder, group, width, moments)
            encoder.tucker_factors.append(factors)
            errors.append((len(group), error))
        groups = list(encoder.tucker_factors)
        blocks = sum(len(factors.mixing) for factors in groups)
        stored = sum(2 * width * factors.rank + len(factors.mixing) * factors.rank**2 for factors in groups)
        facts = {"ranks": sorted({factors.rank for factors in groups}), "block_width": width, "blocks": blocks,
                 "factor_groups": len(groups), "stored_weights": stored,
                 "dense_weights": blocks * width * width}  # fmt: skip
        if moments is not None:
            facts["output_error"] = {  # mean over layers of E‖x·(W − Ŵ)‖² / E‖x·W‖² on the calibration text
                stage: round(sum(count * error[i] for count, error in errors) / len(layers), 4)
                for i, stage in enumerate(("hooi", "refined"))
            }
        return facts

    def factorize_group(
        self, encoder: nn.Module, group: dict[str, nn.Linear], width: int, moments: InputMoments | None
    ) -> tuple[TuckerFactors, tuple[float, float] | None]:
        """Replaces the group's layers in `encoder` by TuckerLinears over one new set of factors; returns them, and
        (with `moments`) the group's mean output error before and after refining them (tucker_fit.py)."""
        grids = {name: blocks_of(layer.weight, width) for name, layer in group.items()}
        stacked = torch.cat([grid.reshape(-1, width, width) for grid in grids.values()])
        rank = rank_for(width, len(stacked), len(stacked) * width * width, self.ratio)
        if not 1 <= rank < width:
            raise UserInputError(f"--encoder-ratio {self.ratio:g} gives tucker no rank between 1 and {width - 1}")
        factors = tucker_factors(stacked, rank, min(self.bank or len(stacked), len(stacked)))
        error = None
        if moments is not None:
            factors, error = refined(factors, group, moments)
        start = 0
        for name, grid in grids.items():
            count = grid.shape[0] * grid.shape[1]
            indices = torch.arange(start, start + count).reshape(grid.shape[:2])
            replace_module(encoder, name, TuckerLinear(factors, indices, group[name].bias))
            start += count
        return factors, error

    def shipped(self, model: nn.Module) -> nn.Module:
        folded = copy.deepcopy(model)
        for module in folded.modules():
            if isinstance(module, TuckerLinear):
                module.fold()
        return folded

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        return quantize_int8(onnx_model, keep, out)
