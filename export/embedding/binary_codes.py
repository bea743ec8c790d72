"""Binary codes and their linear decoder, fitted by alternating exact minimisation (the fitting half of `lighttoken`).

A token's row x is approximated by x̂ = c·D + β, with c ∈ {−1, +1}^b its code, D [b, dim] and β [dim] shared.
The objective is the squared error Σ_t w_t ‖x_t − x̂_t‖², tokens weighted by how often they occur in text.

Start (`initial_codes`): in stages, as LightToken does, each stage's bits are the signs of what the earlier stages
left unexplained, projected on that residual's principal directions under a random orthogonal rotation drawn from
the seed (ITQ's start, so every bit carries variance). Then (`refine`) the two halves are minimised in turn, each
exactly:
- the decoder and bias for fixed codes: weighted least squares (normal equations);
- the codes for a fixed decoder: per token, one pass over the bits, flipping a bit when that lowers the token's
  error (single-bit descent; the error change of every flip is kept up to date in G = R·Dᵀ, R the residuals).
Neither half can raise the objective, so it falls every round until a round flips almost nothing.

Deterministic for a seed, on any CPU: the rotation is the only draw, everything runs in float64, and a bit flips
only when it gains more than FLIP_TOLERANCE (relative), far above float64 rounding. So another CPU's arithmetic,
which differs in the last float64 digits, takes the same flips and gives the same codes. The earlier fit (a
straight-through autoencoder trained with Adam on shuffled batches) amplified such differences: one thread instead
of two changed a quarter of its bits. The figures are in docs/lighttoken-fit.md.
"""

from __future__ import annotations

import torch

from ..errors import UserInputError

SETTLED = 1e-3  # stop once a round flips fewer than this share of all bits
FLIP_TOLERANCE = 1e-9  # a flip must lower a token's error by more than this times the mean ‖D_j‖²


def initial_codes(table: torch.Tensor, stage_bits: list[int], weight: torch.Tensor, seed: int) -> torch.Tensor:
    """±1 codes [vocab, Σ stage_bits] (float64), stage by stage on what the earlier stages left."""
    generator = torch.Generator().manual_seed(seed)
    target = table.double()
    codes = torch.empty(target.shape[0], 0, dtype=torch.float64)
    reconstruction = torch.zeros_like(target)
    for bits in stage_bits:
        centred = target - reconstruction
        centred = centred - centred.mean(0)
        projection = centred @ _rotated_directions(centred, bits, generator).T
        codes = torch.cat([codes, torch.where(projection >= 0, 1.0, -1.0).double()], 1)
        decoder, bias = fit_decoder(codes, target, weight)
        reconstruction = codes @ decoder + bias
    return codes


def _rotated_directions(centred: torch.Tensor, bits: int, generator: torch.Generator) -> torch.Tensor:
    """[bits, dim]: the top principal directions (signs made canonical, so LAPACK's sign choice cannot matter),
    extended by random directions when bits exceed the directions the table has, under a random rotation."""
    dim = centred.shape[1]
    directions = torch.linalg.svd(centred, full_matrices=False)[2][: min(bits, dim)]
    largest = directions.gather(1, directions.abs().argmax(1, keepdim=True))
    directions = directions * torch.sign(largest)
    if bits > len(directions):  # more bits than the table has principal directions
        extra = torch.randn(bits - len(directions), dim, generator=generator, dtype=torch.float64) / dim**0.5
        directions = torch.cat([directions, extra])
    rotation = torch.linalg.qr(torch.randn(bits, bits, generator=generator, dtype=torch.float64))[0]
    return rotation @ directions


def refine(codes: torch.Tensor, table: torch.Tensor, weight: torch.Tensor, rounds: int) -> tuple[torch.Tensor, ...]:
    """Alternate decoder refits and bit passes, at most `rounds` of each; returns (codes ±1 [vocab, bits],
    decoder [bits, dim], bias [dim]), float64, the decoder fitted to the returned codes."""
    target = table.double()
    by_bit = codes.double().T.contiguous()  # [bits, vocab]: a pass reads and flips one bit of every token at a time
    decoder, bias = fit_decoder(by_bit.T, target, weight)
    for _ in range(rounds):
        flips = flip_bits(by_bit, decoder, bias, target)
        decoder, bias = fit_decoder(by_bit.T, target, weight)
        if flips < SETTLED * by_bit.numel():
            break
    return by_bit.T, decoder, bias


def flip_bits(by_bit: torch.Tensor, decoder: torch.Tensor, bias: torch.Tensor, target: torch.Tensor) -> int:
    """One pass over the bits in order (codes bit-major, [bits, vocab], updated in place): a token's bit j flips
    when that lowers its ‖x − x̂‖² by more than the tolerance. Flipping c_j changes the error by
    4·c_j·(R·D_j) + 4·‖D_j‖², R = x − x̂. Returns the number of flips."""
    gram = decoder @ decoder.T  # [bits, bits]
    # G = R·Dᵀ, token-major [vocab, bits], so a flipped token's update is one contiguous row
    correlation = (decoder @ (target - by_bit.T @ decoder - bias).T).T.contiguous()
    tolerance = FLIP_TOLERANCE * float(gram.diagonal().mean())
    flips = 0
    for j in range(by_bit.shape[0]):
        gain = 4 * by_bit[j] * correlation[:, j] + 4 * gram[j, j]
        rows = torch.nonzero(gain < -tolerance)[:, 0]
        if len(rows):
            flips += len(rows)
            signs = by_bit[j, rows]
            # R += 2·c_j·D_j on those rows; only bits after j are read again in this pass (the next pass starts
            # from a fresh G), so only their columns are kept up to date: the same sums, half the work
            correlation[rows, j + 1 :] += 2 * gram[j + 1 :, j][None, :] * signs[:, None]
            by_bit[j, rows] = -signs
    return flips


class TooFewDirections(UserInputError):
    def __init__(self) -> None:
        super().__init__("the table's rows span too few directions for this many code bits (their decoder has no "
                         "single solution); choose a higher --ratio or another --embedding")


def fit_decoder(
    codes: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, chunk: int = 16384
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least-squares decoder [bits, dim] and bias [dim] for fixed ±1 codes [vocab, bits], in float64, by
    the normal equations summed over chunks of rows (no [vocab, bits] copy of the design matrix)."""
    size = codes.shape[1] + 1
    gram = torch.zeros(size, size, dtype=torch.float64)
    moment = torch.zeros(size, target.shape[1], dtype=torch.float64)
    for start in range(0, codes.shape[0], chunk):
        rows = slice(start, start + chunk)
        design = torch.cat([codes[rows].double(), torch.ones(len(target[rows]), 1, dtype=torch.float64)], 1)
        weighted = design * weight[rows].double()[:, None]
        gram += weighted.T @ design
        moment += weighted.T @ target[rows].double()
    try:
        solution = torch.linalg.solve(gram, moment)
    except torch.linalg.LinAlgError:  # a code column equal to another or to the bias's: a table of low rank
        raise TooFewDirections() from None
    return solution[:-1], solution[-1]
