"""--vocab-rest's table (embedding/domain_rest.py): the domain's rows by the chosen method, the others as lighttoken
codes, one map from a token id to its row."""

from __future__ import annotations

import pytest
import torch

from export.embedding import LightToken, NoCompression, Svd
from export.embedding.domain_rest import compress_with_rest, map_dtype
from export.errors import UserInputError

ROWS, WIDTH = 600, 32


@pytest.fixture(scope="module")
def table_and_rows():
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(ROWS, WIDTH, generator=generator)
    domain = torch.zeros(ROWS, dtype=torch.bool)
    domain[::3] = True  # scattered, as a domain's ids are
    reachable = torch.ones(ROWS, dtype=torch.bool)
    reachable[590:] = False  # rows no text reaches belong to neither part
    return table, domain & reachable, reachable & ~domain


def test_domain_rows_come_back_exact_and_the_rest_as_its_codes_decode_them(table_and_rows):
    table, domain, rest = table_and_rows
    module = compress_with_rest(NoCompression(), table, 0, None, domain, rest, 8.0)
    with torch.no_grad():
        looked_up = module(torch.arange(ROWS)[None])[0]
        rest_decoded = module.rest(torch.arange(int(rest.sum()))[None])[0]
    assert torch.equal(looked_up[domain], table[domain])
    assert torch.equal(looked_up[rest], rest_decoded)
    cosine = torch.nn.functional.cosine_similarity(looked_up[rest], table[rest], dim=-1)
    assert 0.3 < float(cosine.mean()) < 0.99  # an approximation of each row's own, not another's nor the row itself
    assert module.row_map.dtype == torch.int16 and module.describe()["rest"]["frequent_rows"] == 0


def test_a_sized_method_keeps_its_ratio_against_the_whole_table(table_and_rows):
    """svd at --ratio 6 beside a rest at 8: the domain gets what the rest's codes and the map leave of the whole
    table's budget, so the whole module lands within 5% of 6."""
    table, domain, rest = table_and_rows
    module = compress_with_rest(Svd(ratio=6.0), table, 0, None, domain, rest, 8.0)
    assert abs(ROWS * WIDTH * 4 / module.stored_bytes() / 6 - 1) <= 0.05


def test_a_rest_that_takes_the_whole_budget_is_refused(table_and_rows):
    table, domain, rest = table_and_rows
    with pytest.raises(UserInputError, match="takes all of --ratio 40's budget"):
        compress_with_rest(LightToken(ratio=40.0), table, 0, None, domain, rest, 4.0)


def test_a_domain_budget_beyond_what_the_method_can_use_says_to_raise_the_ratio(table_and_rows):
    """svd at --ratio 1.5 leaves the domain's 197 rows more bytes than their fp32 rows take (0.6x): the advice is to
    compress harder, not less (the domain's ratio rises with --ratio and falls with --vocab-rest)."""
    table, domain, rest = table_and_rows
    advice = r"would need 0\.\dx \(reachable: .*\); raise --ratio or lower --vocab-rest"
    with pytest.raises(UserInputError, match=advice):
        compress_with_rest(Svd(ratio=1.5), table, 0, None, domain, rest, 8.0)


def test_the_map_takes_two_bytes_a_row_while_the_ids_fit_and_four_beyond():
    assert map_dtype(30_522) == map_dtype(32_768) == torch.int16  # BERT's vocabulary
    assert map_dtype(32_769) == map_dtype(250_002) == torch.int32  # XLM-R's
