"""`direction-ae`: the direction-aware linear autoencoder of Bałazy et al. (RepL4NLP 2021), as a baseline.

Each row x is encoded to a k-wide latent z = A x (stored per token in fp16) and decoded as x̂ = z D + b (D and b
shared, fp32), the same storage as `svd` plus a bias, so at a given ratio both have the same k. Training
minimises mostly the cosine distance plus a small L_α term,
    L = C_COSINE · mean(1 − cos(x̂, x)) + C_ALPHA · mean(|x̂ − x|^α),
α annealed linearly from 1.0 to 0.1 over the first ALPHA_EPOCHS epochs, Adam at 1e-3 halved every 4 epochs:
the paper's published settings. Two departures, both for the ≤ 3-minute fit budget on 2 cores: batches of 256
rows instead of 32 (8x fewer optimizer steps), and the maps start from the truncated SVD (the optimum of the
Euclidean problem) instead of at random, so 20 epochs start from a good point. The latents are rounded to fp16
inside training, as they are stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UserInputError
from .base import RATIO_TOLERANCE, CompressedEmbedding, EmbeddingMethod, RatioOutOfReach
from .svd import highest_rank, truncated_svd
from .token_stats import TokenStats

C_COSINE, C_ALPHA = 0.9975 / 5, 0.0025
ALPHA_START, ALPHA_END, ALPHA_EPOCHS = 1.0, 0.1, 20
HALVE_EVERY = 4  # epochs


class LinearLatent(CompressedEmbedding):
    def __init__(self, latent: torch.Tensor, decoder: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__(latent.shape[0], decoder.shape[1])
        self.register_buffer("latent", latent)  # fp16 [vocab, k]
        self.register_buffer("decoder", decoder)  # fp32 [k, dim]
        self.register_buffer("bias", bias)  # fp32 [dim]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.latent[input_ids].float(), self.decoder) + self.bias

    def describe(self) -> dict[str, int]:
        return {"rank": self.decoder.shape[0]}


def orientation_loss(x: torch.Tensor, x_hat: torch.Tensor, alpha: float) -> torch.Tensor:
    cosine = nn.functional.cosine_similarity(x_hat, x, dim=-1)
    # |e|^α has an infinite slope at 0 for α < 1; the epsilon keeps its gradient finite.
    return C_COSINE * (1 - cosine).mean() + C_ALPHA * ((x_hat - x).abs() + 1e-8).pow(alpha).mean()


def train(
    table: torch.Tensor, k: int, settings: DirectionAE, generator: torch.Generator
) -> tuple[nn.Linear, nn.Linear]:
    _, basis = truncated_svd(table, k)
    encoder, decoder = nn.Linear(table.shape[1], k, bias=False), nn.Linear(k, table.shape[1])
    with torch.no_grad():
        encoder.weight.copy_(basis)  # z = x Vᵀ = the SVD factors of x
        decoder.weight.copy_(basis.T)
        decoder.bias.zero_()
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=HALVE_EVERY, gamma=0.5)
    for epoch in range(settings.epochs):
        alpha = ALPHA_START + (ALPHA_END - ALPHA_START) * min(epoch / (ALPHA_EPOCHS - 1), 1.0)
        for rows in torch.randperm(table.shape[0], generator=generator).split(settings.batch):
            x = table[rows]
            loss = orientation_loss(x, decoder(encoder(x).half().float()), alpha)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    return encoder, decoder


@dataclass(frozen=True)
class DirectionAE(EmbeddingMethod):
    name = "direction-ae"
    stochastic = True
    summary = "linear autoencoder trained on cosine + L_alpha (Balazy et al. 2021), fp16 latents"

    ratio: float = 8.0
    epochs: int = 20
    learning_rate: float = 1e-3
    batch: int = 256  # rows per step

    def check(self) -> None:
        super().check()
        if self.epochs < 1 or self.batch < 1 or not 0 < self.learning_rate < 1:
            raise UserInputError("direction-ae needs epochs >= 1, batch >= 1 and 0 < learning_rate < 1")

    def rank_for(self, vocab: int, dim: int) -> int:
        """The rank whose stored bytes land within RATIO_TOLERANCE of the ratio; refused before the minutes of
        training, not after: past the ranks there are, with their range; between two ranks, with those two."""
        fp32, top = vocab * dim * 4, highest_rank(vocab, dim)

        def stored(rank: int) -> int:  # fp16 latents, fp32 decoder and bias
            return 2 * vocab * rank + 4 * rank * dim + 4 * dim

        exact = (fp32 / self.ratio - 4 * dim) / (2 * vocab + 4 * dim)
        k = min(max(round(exact), 1), top)
        if abs(fp32 / stored(k) / self.ratio - 1) > RATIO_TOLERANCE:
            inside = 1 <= exact <= top
            ranks = (math.ceil(exact), math.floor(exact)) if inside else (top, 1)
            reachable = tuple(fp32 / stored(r) for r in ranks)
            raise RatioOutOfReach(self.name, self.ratio, (vocab, dim), reachable, stepped=inside)
        return k

    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> LinearLatent:
        vocab, dim = table.shape
        k = self.rank_for(vocab, dim)
        generator = torch.Generator().manual_seed(seed)
        table = table.float()
        encoder, decoder = train(table, k, self, generator)
        with torch.no_grad():
            latent = encoder(table).half()
            return LinearLatent(latent, decoder.weight.T.contiguous(), decoder.bias.detach().clone())
