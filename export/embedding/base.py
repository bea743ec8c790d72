"""The embedding-method interface: fit on the token table → an nn.Module that replaces the word embedding.

The module decodes each token when it is looked up (never the whole table at load time), traces to standard
ONNX ops, and stores everything it needs as buffers, so `stored_bytes()` is the honest size of what lands in
the exported graph. The exporter re-measures that size from the graph itself (see onnx_graph.py).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import UserInputError
from ..method_settings import MethodSettings
from .token_stats import TokenStats

RATIO_TOLERANCE = 0.05  # --ratio R promises an achieved ratio within ±5% of R


class RatioOutOfReach(UserInputError):
    """Raised by fit(): no size of the method lands near the ratio on the table it was given. `reachable` holds
    the ratios it can reach there: (lowest, highest) for methods sized in fine steps, else (`stepped`) each one."""

    def __init__(self, method: str, ratio: float, shape: tuple[int, int], reachable: tuple[float, ...],
                 stepped: bool = False) -> None:  # fmt: skip
        self.method, self.ratio, self.shape, self.reachable, self.stepped = method, ratio, shape, reachable, stepped
        super().__init__(
            f"{method} cannot reach ratio {ratio:g} on a {shape[0]}x{shape[1]} table (reachable: {self.span}); "
            "choose a --ratio there or another --embedding (none keeps the table whole)"
        )

    @property
    def span(self) -> str:
        """The reachable ratios in words: "1.6 to 53", or each step: "4.8, 5.6"; "none" where no size fits."""
        if not self.reachable or self.reachable[-1] < 1 + RATIO_TOLERANCE:  # was "1.0 to 1"
            return "none on so few rows"
        if not self.stepped:
            lowest, highest = self.reachable
            return f"{lowest:.1f} to {highest:.1f}" if highest < 10 else f"{lowest:.1f} to {highest:.0f}"
        return ", ".join(f"{r:.1f}" for r in self.reachable)

    def on_whole_table(self, ratio: float, shape: tuple[int, int], share: float) -> RatioOutOfReach:
        """The same refusal in the user's terms, for a fit on the `share` of rows the tokenizer can reach."""
        return RatioOutOfReach(self.method, ratio, shape, tuple(r / share for r in self.reachable), self.stepped)


class CompressedEmbedding(nn.Module, ABC):
    """token ids [batch, seq] (int64) → vectors [batch, seq, dim] (float32)."""

    # May the encoder quantizer rewrite this module's nodes? Only for the uncompressed table.
    quantizable: ClassVar[bool] = False

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim

    @abstractmethod
    def forward(self, input_ids: torch.Tensor) -> torch.Tensor: ...

    def stored_bytes(self) -> int:
        """Bytes of every parameter and buffer, tensors of equal contents counted once: the ONNX exporter stores
        them as one initializer (--vocab-rest's two lighttoken parts share one lookup table)."""
        unique = {}
        for tensor in [*self.parameters(), *self.buffers()]:
            contents = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()  # a view, no copy
            unique[(tensor.dtype, tuple(tensor.shape), hashlib.sha256(contents).digest())] = contents.nbytes
        return sum(unique.values())

    def describe(self) -> dict[str, Any]:
        """Method-specific facts for the report (rank, bits, ...)."""
        return {}


@dataclass(frozen=True)
class EmbeddingMethod(MethodSettings, ABC):
    """A token-table compression method with its settings (method_settings.py: fields are hyperparameters, a
    `ratio` field when --ratio sizes it)."""

    ratio_flag = "--ratio"
    # Does decoding lose more than int8 rounding? Lossy methods get the preset's looser parity floor
    # (Tolerance.lossy_min_cosine_margin, per lossy part): the int8 encoder's error grows on the rows they decode.
    lossy: ClassVar[bool] = True
    # Is the fit a random draw (trained from a seeded start)? Figures of such a method are given over seeds.
    stochastic: ClassVar[bool] = False

    @abstractmethod
    def fit(self, table: torch.Tensor, seed: int, stats: TokenStats | None = None) -> CompressedEmbedding:
        """Compress `table` [vocab, dim] (float32) at self.ratio; `seed` draws a trained method's start; `stats`
        tells how often each token occurs in general text, for methods that weight their fit by it. Methods size
        themselves as close to the ratio as their granularity allows and refuse ratios they cannot reach."""

    def compress(
        self,
        table: torch.Tensor,
        seed: int = 0,
        stats: TokenStats | None = None,
        keep: torch.Tensor | None = None,
        counted_rows: int | None = None,
    ) -> CompressedEmbedding:
        """fit() on the rows in `keep` (bool [vocab]; the rows the tokenizer can reach, see reachable.py) with
        the byte budget --ratio gives the whole table, so left-out rows leave more bits to the stored ones;
        then hold the result to the promise of --ratio: the achieved ratio within RATIO_TOLERANCE.
        `counted_rows`: the rows --ratio counts against when `table` is already a part of the original one
        (--vocab's pruned table); default: `table`'s own."""
        from .reachable import ReachableRows  # reachable.py builds on this module

        counted_rows = counted_rows or table.shape[0]
        leaves_out = keep is not None and not bool(keep.all())
        rows = table[keep] if leaves_out else table
        share = rows.shape[0] / counted_rows
        counted_shape = (counted_rows, table.shape[1])
        on_stored_rows = replace(self, ratio=self.ratio * share) if self.sized() and share < 1 else self
        try:
            module = on_stored_rows.fit(rows, seed, stats.select(keep) if leaves_out and stats else stats)
        except RatioOutOfReach as err:
            raise (err.on_whole_table(self.ratio, counted_shape, share) if share < 1 else err) from None
        if leaves_out:
            module = ReachableRows(module, keep)
        return self.held_to_ratio(module, counted_shape)

    def held_to_ratio(self, module: CompressedEmbedding, counted_shape: tuple[int, int]) -> CompressedEmbedding:
        """`module`, once a sized method's achieved ratio against the fp32 table of `counted_shape` is within
        RATIO_TOLERANCE of --ratio (the promise of --ratio); UserInputError when it is not."""
        if not self.sized():
            return module
        rows, width = counted_shape
        achieved = rows * width * 4 / module.stored_bytes()
        if abs(achieved / self.ratio - 1) > RATIO_TOLERANCE:
            raise UserInputError(
                f"{self.name} reaches ratio {achieved:.1f}, not within {RATIO_TOLERANCE:.0%} of {self.ratio:g}"
                f" on a {rows}x{width} table (its sizes come in steps; try {achieved:.1f})"
            )
        return module


def fp32_table_bytes(table: torch.Tensor) -> int:
    return table.shape[0] * table.shape[1] * 4
