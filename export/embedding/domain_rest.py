"""The rows a deployment domain uses by the chosen method, every other row as cheap lighttoken codes
(`--vocab TEXT --vocab-rest RATIO`).

Plain `--vocab` drops the rows its text never used and rewrites the tokenizer, so an unseen word is spelt from
smaller pieces, and a model reads a word it knew as pieces it did not see together in training (what that costs
on unseen text: docs/vocab.md). Here the tokenizer stays as it is, every text tokenizes as
before, and the rows outside the domain are kept at a high ratio instead (about 16 bytes a row at 100x against the
int8 table's 384): a word the domain's sample missed keeps an approximation of its own row.

Stored: the domain's module (fitted on its rows only), the rest's lighttoken codes (fitted on theirs) and a map
[vocab] from a token id to its row (int16 while the ids fit, as BERT's 30,522 do; else int32): below
`domain_rows`, the domain module's row; from there on, the rest's row plus `domain_rows`. Rows no text can reach
(embedding/reachable.py) are in neither and map to row 0. Lookup, standard ops: Gather(map) → Cast, both modules
looked up (each with its ids clamped into range) and Where(map < domain_rows) picks.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..errors import UserInputError
from .base import CompressedEmbedding, EmbeddingMethod, RatioOutOfReach
from .binary_codes import TooFewDirections
from .lighttoken import LUT_BYTES, LightToken
from .token_stats import TokenStats


class DomainAndRest(CompressedEmbedding):
    def __init__(self, domain: CompressedEmbedding, rest: CompressedEmbedding, row_map: torch.Tensor) -> None:
        super().__init__(row_map.numel(), domain.embedding_dim)
        self.domain = domain
        self.rest = rest
        self.quantizable = domain.quantizable  # the int8 quantizer may rewrite an uncompressed domain table
        self.domain_rows = domain.num_embeddings
        self.register_buffer("row_map", row_map.to(map_dtype(row_map.numel())))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        row = self.row_map[input_ids].long()
        in_domain = row < self.domain_rows
        domain = self.domain(row.clamp(max=self.domain_rows - 1))
        rest = self.rest((row - self.domain_rows).clamp(min=0))
        return torch.where(in_domain.unsqueeze(-1), domain, rest)

    def describe(self) -> dict[str, object]:
        return {
            "domain_rows": self.domain_rows,
            "domain": self.domain.describe(),
            "rest_rows": self.rest.num_embeddings,
            "rest": self.rest.describe(),
            "rest_bytes": self.rest.stored_bytes(),
        }


def map_dtype(rows: int) -> torch.dtype:
    return torch.int16 if rows <= torch.iinfo(torch.int16).max + 1 else torch.int32


def row_map(domain: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """int64 [vocab]: domain rows numbered 0..d-1, then rest rows d..d+r-1, each set in id order; others 0."""
    rows = torch.zeros(domain.numel(), dtype=torch.int64)
    rows[domain] = torch.arange(int(domain.sum()))
    rows[rest] = int(domain.sum()) + torch.arange(int(rest.sum()))
    return rows


def compress_with_rest(
    method: EmbeddingMethod,
    table: torch.Tensor,
    seed: int,
    stats: TokenStats | None,
    domain: torch.Tensor,
    rest: torch.Tensor,
    rest_ratio: float,
) -> DomainAndRest:
    """`domain` and `rest` (bool [vocab], disjoint): the rest fitted by lighttoken at `rest_ratio` (against its own
    rows' fp32 bytes, no frequent rows: the frequent tokens are the domain's), the domain by `method`. A sized
    method's --ratio still counts against the whole table: the domain gets what the rest and the map leave."""
    width = table.shape[1]
    try:
        rest_module = LightToken(ratio=rest_ratio, frequent_rows=0).fit(table[rest], seed, _select(stats, rest))
    except RatioOutOfReach as err:
        raise UserInputError(f"--vocab-rest {rest_ratio:g} is out of reach on the {int(rest.sum()):,} rows outside "
                             f"the domain (reachable: {err.span})") from None  # fmt: skip
    except TooFewDirections:
        raise UserInputError(f"--vocab-rest {rest_ratio:g}: the {int(rest.sum()):,} rows outside the domain span too "
                             "few directions for that many code bits; raise --vocab-rest") from None  # fmt: skip
    overhead = rest_module.stored_bytes() + map_dtype(table.shape[0]).itemsize * table.shape[0]
    domain_method = method
    if method.sized():
        whole = table.shape[0] * width * 4
        shared = LUT_BYTES if isinstance(method, LightToken) else 0  # both parts' lookup table, stored once
        left = whole / method.ratio - overhead + shared
        if left <= 0:
            raise UserInputError(f"--vocab-rest {rest_ratio:g} takes all of --ratio {method.ratio:g}'s budget; "
                                 "raise --vocab-rest or lower --ratio")  # fmt: skip
        domain_method = replace(method, ratio=int(domain.sum()) * width * 4 / left)
    try:
        domain_module = domain_method.fit(table[domain], seed, _select(stats, domain))
    except RatioOutOfReach as err:
        raise UserInputError(f"{method.name} cannot reach --ratio {method.ratio:g} with --vocab-rest {rest_ratio:g} "
                             f"beside it: the domain's {int(domain.sum()):,} rows would need {err.ratio:.1f}x "
                             f"(reachable: {err.span}); {_advice(err)}") from None  # fmt: skip
    return method.held_to_ratio(DomainAndRest(domain_module, rest_module, row_map(domain, rest)), table.shape)


def _advice(err: RatioOutOfReach) -> str:
    """The domain's ratio rises with --ratio (a smaller whole budget) and falls with --vocab-rest (a smaller rest)."""
    if not err.reachable:
        return "choose another --embedding for so few rows"
    if err.ratio < min(err.reachable):
        return "raise --ratio or lower --vocab-rest"
    if err.ratio > max(err.reachable):
        return "lower --ratio or raise --vocab-rest"
    return "choose another --ratio"


def _select(stats: TokenStats | None, rows: torch.Tensor) -> TokenStats | None:
    return stats.select(rows) if stats is not None else None
