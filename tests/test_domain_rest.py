"""--vocab-rest's table (embedding/domain_rest.py): the domain's rows by the chosen method, the others as lighttoken
codes, one map from a token id to its row."""

from __future__ import annotations

import pytest
import torch
from test_embedding_methods import EmbeddingHolder

from export.embedding import LightToken, NoCompression, Svd
from export.embedding.domain_rest import compress_with_rest, map_dtype
from export.errors import UserInputError
from export.onnx_graph import Scope, load_graph

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


def first_rows(count: int, rows: int = 3000) -> torch.Tensor:
    """A domain of a table's first `count` rows (bool [rows])."""
    domain = torch.zeros(rows, dtype=torch.bool)
    domain[:count] = True
    return domain


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


def test_a_lighttoken_domain_of_few_rows_given_more_than_its_fp32_bytes_is_refused_with_the_way_out():
    """60 domain rows of 3,000 (96 wide): the rest's codes at 100x leave the domain more bytes than its fp32 rows
    take; lighttoken refuses there (it crashed on a shape mismatch: more bits than rows and than the width)."""
    table = torch.randn(3000, 16) @ torch.randn(16, 96) + 0.3 * torch.randn(3000, 96)
    domain = first_rows(60)
    advice = r"would need 0\.\dx \(reachable: .*\); raise --ratio or lower --vocab-rest"
    with pytest.raises(UserInputError, match=advice):
        compress_with_rest(LightToken(ratio=25.0), table, 0, None, domain, ~domain, 100.0)


def test_a_lighttoken_domain_too_small_for_any_code_is_refused_as_such():
    """Six domain rows: no code bits can be fitted to 8 rows or fewer, so no ratio is reachable (it said
    "reachable: 1.8 to 1" and advised raising --ratio)."""
    table = torch.randn(3000, 96, generator=torch.Generator().manual_seed(0))
    domain = first_rows(6)
    refusal = r"\(reachable: none on so few rows\); choose another --embedding for so few rows$"
    with pytest.raises(UserInputError, match=refusal):
        compress_with_rest(LightToken(ratio=25.0), table, 0, None, domain, ~domain, 100.0)


def test_a_rest_of_too_few_directions_is_refused_with_the_rest_flags_way_out():
    """The rest's codes are sized by --vocab-rest, not --ratio: the advice names it (it named --ratio)."""
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(3000, 2, generator=generator) @ torch.randn(2, 64, generator=generator)  # rank 2
    domain = first_rows(300)
    with pytest.raises(UserInputError, match=r"span too few directions for that many code bits; raise --vocab-rest$"):
        compress_with_rest(NoCompression(), table, 0, None, domain, ~domain, 8.0)


def test_the_map_takes_two_bytes_a_row_while_the_ids_fit_and_four_beyond():
    assert map_dtype(30_522) == map_dtype(32_768) == torch.int16  # BERT's vocabulary
    assert map_dtype(32_769) == map_dtype(250_002) == torch.int32  # XLM-R's


def test_the_stored_bytes_are_the_graphs_when_both_parts_hold_the_same_lookup_table(tmp_path, table_and_rows):
    """Two lighttoken parts each hold the [256, 8] lookup table; the ONNX exporter stores equal initializers once,
    so counting each module's buffers overstated the graph by 2,048 bytes (and so the achieved ratio)."""
    table, domain, rest = table_and_rows
    module = compress_with_rest(LightToken(ratio=4.0), table, 0, None, domain, rest, 8.0)
    ids = torch.arange(ROWS)[None]
    path = tmp_path / "embedding.onnx"
    torch.onnx.export(EmbeddingHolder(module), (ids,), str(path), input_names=["input_ids"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}}, opset_version=14, dynamo=False)  # fmt: skip
    extra = Scope("word_embeddings").stored_bytes(load_graph(path)) - module.stored_bytes()
    assert 0 <= extra <= 256  # the graph also holds a few int64 shape constants (Reshape targets)
