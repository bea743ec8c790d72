"""Factorised linear layers that replace an encoder's nn.Linear in PyTorch (lowrank.py, tucker.py).

Both trace to plain MatMuls whose weights the int8 pass quantizes per channel. The Tucker layer's core block
matrix depends on no token: Tucker.shipped folds it into one buffer per layer (`fold`), so the export stores it as a
constant; the other two factors are shared by every layer of their group, so their MatMuls read the same initializer.
"""

from __future__ import annotations

import torch
from torch import nn


class LowRankLinear(nn.Module):
    """y = (x · Bᵀ) · Aᵀ + bias: W [out, in] ≈ A [out, r] · B [r, in] (truncated SVD). With `sigma`, the second
    moment Σ = S·Sᵀ of the layer's input (calibration.py), the SVD is of W·S, and B carries S⁻¹: the rank-r W'
    closest in E‖x·(W − W')ᵀ‖², the output error on the calibration text (SVD-LLM's whitening)."""

    def __init__(self, layer: nn.Linear, rank: int, sigma: torch.Tensor | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = layer.in_features, layer.out_features
        weight = layer.weight.detach().double()
        whitening = None if sigma is None else torch.linalg.cholesky(sigma)
        u, s, vh = torch.linalg.svd(weight if whitening is None else weight @ whitening, full_matrices=False)
        root = s[:rank].sqrt()
        down = root[:, None] * vh[:rank]
        if whitening is not None:
            down = torch.linalg.solve_triangular(whitening, down, upper=False, left=False)  # down · S⁻¹
        self.down = nn.Linear(layer.in_features, rank, bias=False)
        self.up = nn.Linear(rank, layer.out_features, bias=layer.bias is not None)
        with torch.no_grad():
            self.down.weight.copy_(down.float())
            self.up.weight.copy_((u[:, :rank] * root[None, :]).float())
            if layer.bias is not None:
                self.up.bias.copy_(layer.bias)

    def product(self) -> torch.Tensor:
        """The [out, in] weight the two factors compute (a method, not a `weight` attribute: nothing may take
        this layer for a dense one)."""
        return self.up.weight @ self.down.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


class TuckerFactors(nn.Module):
    """The shared factors of every block of the encoder (Wang, Ren et al., forms III/IV): W_i ≈ U · C_i · V with
    C_i = Σ_k P[i, k] · G_k; U [D, r], V [r, D], the core bank G [l, r, r], mixing weights P [n, l]."""

    def __init__(self, u: torch.Tensor, v: torch.Tensor, bank: torch.Tensor, mixing: torch.Tensor) -> None:
        super().__init__()
        self.u, self.v = nn.Parameter(u), nn.Parameter(v)
        self.bank, self.mixing = nn.Parameter(bank), nn.Parameter(mixing)

    @property
    def rank(self) -> int:
        return self.u.shape[1]

    def cores(self, blocks: torch.Tensor) -> torch.Tensor:
        """C_i for the block indices `blocks` (any shape) → [*blocks.shape, r, r]."""
        rank = self.rank
        # MatMul and Reshape rather than einsum: the TorchScript exporter's constant folding knows them
        flat = torch.matmul(self.mixing[blocks], self.bank.reshape(self.bank.shape[0], rank * rank))
        return flat.reshape(*blocks.shape, rank, rank)


class TuckerLinear(nn.Module):
    """A linear layer of a·D inputs and b·D outputs as a × b blocks of the shared factors:
    y_j = Σ_i x_i · U · C_ij · V + bias_j, computed as ((x · U) · M) · V with M the a×b block matrix of the cores
    (a·D·r + a·b·r² + b·r·D multiply-adds a token against a·b·D²). `fold()` stores M as a constant for export."""

    def __init__(self, factors: TuckerFactors, blocks: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self._factors = [factors]  # shared, registered once on the encoder: a list keeps nn.Module from adding it
        self.register_buffer("blocks", blocks)  # int64 [a, b]: block indices into the factors' mixing rows
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.register_buffer("folded", None)  # M once fold() computed it

    @property
    def factors(self) -> TuckerFactors:
        return self._factors[0]

    def block_matrix(self) -> torch.Tensor:
        """M [a·r, b·r]: block (i, j) is C_ij."""
        if self.folded is not None:
            return self.folded
        inputs, outputs = self.blocks.shape
        rank = self.factors.rank
        return self.factors.cores(self.blocks).permute(0, 2, 1, 3).reshape(inputs * rank, outputs * rank)

    def fold(self) -> None:
        """Compute M once and keep it as a buffer: the export stores it (r×r a block) instead of computing it
        from the bank on every call."""
        self.folded = self.block_matrix().detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs, outputs = self.blocks.shape
        z = _blockwise(x, inputs, self.factors.u)  # x_i · U for every input block i, side by side
        y = _blockwise(torch.matmul(z, self.block_matrix()), outputs, self.factors.v)
        return y if self.bias is None else y + self.bias


def _blockwise(x: torch.Tensor, blocks: int, factor: torch.Tensor) -> torch.Tensor:
    """x [..., blocks·k] times `factor` [k, m] block by block → [..., blocks·m] (no reshape for one block)."""
    if blocks == 1:
        return torch.matmul(x, factor)
    split = x.reshape(*x.shape[:-1], blocks, factor.shape[0])  # not unflatten: that traces to Mod (not mobile)
    product = torch.matmul(split, factor)
    return product.reshape(*x.shape[:-1], blocks * factor.shape[1])
