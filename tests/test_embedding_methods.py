"""Each embedding method: sizes, ratio accounting, decode quality, determinism, and the graph's own byte count."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.embedding import METHODS, LightToken, NoCompression, Svd, make_method
from export.embedding.base import RatioOutOfReach
from export.embedding.bits import lookup, pack_bits, sign_lut, unpack_bits
from export.embedding.direction_ae import DirectionAE
from export.embedding.svd import rank_for_ratio
from export.embedding.token_stats import TokenStats
from export.errors import UserInputError
from export.onnx_graph import Scope, load_graph, op_types


@pytest.fixture(scope="module")
def table():
    torch.manual_seed(0)
    # Low-rank structure plus noise, like a real table, so the SVD has something to find.
    return (torch.randn(3000, 16) @ torch.randn(16, 96) + 0.1 * torch.randn(3000, 96)).float()


def fit(name: str, table: torch.Tensor, ratio: float | None = None):
    return make_method(name, **({} if ratio is None else {"ratio": ratio})).compress(table)


def decode(module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module(ids)


def row_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b, dim=-1)


def test_registry_lists_every_method():
    assert set(METHODS) == {"none", "int8", "int4", "svd", "direction-ae", "lighttoken"}


def test_none_keeps_the_table(table):
    module = fit("none", table)
    ids = torch.tensor([[0, 5, 2999]])
    assert torch.equal(decode(module, ids), table[ids])
    assert module.stored_bytes() == table.numel() * 4


def test_int8_rows_are_nearly_lossless_at_4x(table):
    module = fit("int8", table)
    assert module.stored_bytes() == 3000 * 96 + 3000 * 2  # int8 codes + one fp16 scale per row
    ids = torch.arange(3000).reshape(30, 100)
    assert row_cosine(decode(module, ids), table[ids]).min() > 0.9999


@pytest.mark.parametrize("ratio", [4.0, 8.0, 16.0])
def test_svd_ratio_accounting(table, ratio):
    module = fit("svd", table, ratio)
    k = rank_for_ratio(3000, 96, ratio)
    assert module.describe() == {"rank": k}
    assert module.stored_bytes() == 3000 * k * 2 + k * 96 * 4
    achieved = table.numel() * 4 / module.stored_bytes()
    assert abs(achieved / ratio - 1) <= 0.05


def test_a_ratio_the_sizes_cannot_land_near_is_refused(table):
    # svd on this table moves in steps of 6384 bytes per rank: 150x would need k = 1.2; k = 1 gives 180x.
    with pytest.raises(UserInputError, match="not within 5% of 150"):
        fit("svd", table, 150.0)


@pytest.mark.parametrize("ratio", [8.0, 16.0])
def test_direction_ae_ratio_accounting(table, ratio):
    module = fit("direction-ae", table, ratio)
    k = module.describe()["rank"]
    assert module.stored_bytes() == 3000 * k * 2 + k * 96 * 4 + 96 * 4  # fp16 latents, fp32 decoder and bias
    assert abs(table.numel() * 4 / module.stored_bytes() / ratio - 1) <= 0.05


def test_direction_ae_beats_svd_on_direction():
    # Trained on cosine from the SVD start, so its rows point closer to the originals than the SVD's, which
    # spends its rank on the longest rows; real tables' row norms vary as much (all-MiniLM-L6-v2: 0.24 to 1.69).
    generator = torch.Generator().manual_seed(2)
    lengths = torch.exp(torch.randn(3000, 1, generator=generator))
    spread = torch.randn(3000, 96, generator=generator) * torch.linspace(1.0, 0.2, 96) * lengths
    ids = torch.arange(3000).reshape(30, 100)
    ae = row_cosine(decode(fit("direction-ae", spread, 12.0), ids), spread[ids]).mean()
    svd = row_cosine(decode(fit("svd", spread, 12.0), ids), spread[ids]).mean()
    assert ae > svd + 0.005


def test_svd_quality_rises_with_rank(table):
    ids = torch.arange(3000).reshape(30, 100)
    low = row_cosine(decode(fit("svd", table, 16.0), ids), table[ids]).mean()
    high = row_cosine(decode(fit("svd", table, 4.0), ids), table[ids]).mean()
    assert 0.5 < low < high
    assert high > 0.99


WITH_RATIOS = [("int8", None), ("svd", 8.0), ("int4", None), ("direction-ae", 8.0), ("lighttoken", 12.0)]


@pytest.mark.parametrize(("name", "ratio"), WITH_RATIOS)
def test_fitting_is_deterministic(table, name, ratio):
    first, second = fit(name, table, ratio), fit(name, table, ratio)
    for a, b in zip(first.buffers(), second.buffers(), strict=True):
        assert torch.equal(a, b)


def test_methods_refuse_bad_ratios():
    with pytest.raises(UserInputError, match="greater than 1"):
        make_method("svd", ratio=1.0)
    with pytest.raises(UserInputError, match="does not apply"):
        make_method("none", ratio=4.0)
    with pytest.raises(UserInputError, match="no setting rank"):
        make_method("svd", rank=4)
    assert make_method("svd") == Svd(ratio=8.0) and NoCompression().to_json() == {"method": "none"}
    assert LightToken(ratio=50).to_json()["ratio"] == 50.0  # an int ratio is stored as the float it means


class EmbeddingHolder(torch.nn.Module):
    def __init__(self, embedding):
        super().__init__()
        self.word_embeddings = embedding

    def forward(self, input_ids):
        return self.word_embeddings(input_ids)


@pytest.mark.parametrize(("name", "ratio"), WITH_RATIOS)
def test_onnx_decode_matches_torch_and_graph_bytes_match(tmp_path, table, name, ratio):
    module = fit(name, table, ratio)
    path = tmp_path / "embedding.onnx"
    ids = torch.randint(0, 3000, (3, 17))
    torch.onnx.export(EmbeddingHolder(module), (ids,), str(path), input_names=["input_ids"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}}, opset_version=14, dynamo=False)  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {"input_ids": ids.numpy()})[0]
    # 440-term float dot products: ORT and torch sum in different orders (the unpacking itself is exact, below)
    np.testing.assert_allclose(onnx_out, decode(module, ids).numpy(), rtol=0, atol=2e-5)
    extra = Scope("word_embeddings").stored_bytes(load_graph(path)) - module.stored_bytes()
    assert 0 <= extra <= 256  # the graph also holds a few int64 shape constants (Reshape targets)


def test_lighttoken_decode_is_integer_arithmetic_that_onnx_runtime_gives_bit_for_bit(tmp_path, table):
    """The decoder product is an integer MatMul (uint8 codes, 0 or 2, with a zero point of 1; the int8 decoder as
    stored) whose sums are exact in float32 too, so ONNX Runtime gives PyTorch's values exactly; the frequent rows
    are dequantized after their Gather (only the looked-up rows). Broken on purpose, the zero point left out (codes
    read as 0/2 instead of ±1), the outputs move far past any rounding (last lines)."""
    module = fit("lighttoken", table, 12.0)
    assert module.frequent_rows > 0
    path = tmp_path / "embedding.onnx"
    ids = torch.arange(3000).reshape(2, 1500)  # every row, the frequent ones among them
    torch.onnx.export(EmbeddingHolder(module), (ids,), str(path), input_names=["input_ids"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}}, opset_version=14, dynamo=False)  # fmt: skip
    expected = decode(module, ids).numpy()
    run = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run
    assert np.array_equal(run(None, {"input_ids": ids.numpy()})[0], expected)
    graph = onnx.load(str(path))
    (product,) = [n for n in graph.graph.node if n.op_type == "MatMulInteger"]
    assert len(product.input) == 3  # A, B and A's zero point
    dequantized = [n for n in graph.graph.node if n.op_type == "DequantizeLinear"]
    assert len(dequantized) == 1 and dequantized[0].input[0] not in {t.name for t in graph.graph.initializer}
    del product.input[2]
    onnx.save(graph, str(tmp_path / "broken.onnx"))
    broken = ort.InferenceSession(str(tmp_path / "broken.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(broken.run(None, {"input_ids": ids.numpy()})[0] - expected).max() > 0.1


def test_packed_bits_round_trip_and_lookup_unpacks_them():
    bits = torch.rand(50, 24, generator=torch.Generator().manual_seed(1)) > 0.5
    packed = pack_bits(bits)
    assert packed.dtype == torch.uint8 and packed.shape == (50, 3)
    assert torch.equal(unpack_bits(packed), bits)
    signs = lookup(packed, sign_lut(), torch.tensor([[0, 49]]))
    assert torch.equal(signs[0], bits[[0, 49]].float() * 2 - 1)


@pytest.mark.parametrize(("ratio", "block"), [(7.1, 32), (6.4, 16), (5.4, 8)])
def test_int4_ratio_picks_the_block_and_counts_every_byte(table, ratio, block):
    module = fit("int4", table, ratio)
    assert module.describe() == {"bits": 4, "block": block}
    assert module.stored_bytes() == 3000 * (48 + 2 * 96 // block) + 256 * 2 * 4  # codes, fp16 scales, LUT
    ids = torch.arange(3000).reshape(30, 100)
    assert row_cosine(decode(module, ids), table[ids]).min() > 0.98
    with pytest.raises(UserInputError, match="cannot reach ratio 12"):
        fit("int4", table, 12.0)


def test_int4_refuses_a_width_no_block_divides_and_names_each_block_it_can_reach():
    refusal = r"int4 needs a table width divisible by 8 \(its smallest block\); this table is 100 wide"
    with pytest.raises(UserInputError, match=refusal):
        make_method("int4").compress(torch.randn(200, 100))
    # width 48: blocks 8 and 16 only, two separate ratios (not a range between them)
    with pytest.raises(UserInputError, match=r"cannot reach ratio 5\.2 on a 500x48 table \(reachable: 4\.8, 5\.6\)"):
        make_method("int4", ratio=5.2).compress(torch.randn(500, 48))


@pytest.mark.parametrize("name", ["int8", "int4"])
def test_an_all_zero_row_and_a_tiny_one_keep_a_nonzero_fp16_scale(name):
    """A scale floor set before the fp16 cast rounds to 0: a zero row then divides 0 by 0 (NaN codes, whatever the
    CPU's cast makes of them) and a tiny row gets codes of ±127 times a zero scale."""
    table = torch.randn(2000, 256)
    table[3] = 0.0
    table[5] = 1e-7 * torch.sign(torch.randn(256))
    module = make_method(name).compress(table)
    decoded = decode(module, torch.arange(8)[None])[0]
    assert torch.equal(decoded[3], torch.zeros(256))
    assert torch.allclose(decoded[5], table[5], rtol=0.6, atol=0)  # each 1e-7 at least half of it comes back
    assert int(module.scales.float().eq(0).sum()) == 0


def test_lighttoken_refuses_more_code_bits_than_rows_to_fit_them_to():
    """A ratio near 1 on a table of few rows asks for more bits than rows: the decoder's least squares then have
    no single solution (and bits beyond the width's directions had no directions to start from)."""
    with pytest.raises(UserInputError, match=r"cannot reach ratio 1\.1 on a 60x96 table \(reachable: 2\.7 to 6\.3\)"):
        LightToken(ratio=1.1).compress(torch.randn(60, 96))


def test_lighttoken_on_eight_rows_or_fewer_reaches_no_ratio_and_says_so():
    # no code bits can be fitted to so few rows; the range read "1.8 to 1" (lowest above highest)
    with pytest.raises(RatioOutOfReach, match=r"on a 6x384 table \(reachable: none on so few rows\)"):
        LightToken(ratio=50).compress(torch.randn(6, 384))
    with pytest.raises(RatioOutOfReach, match=r"on a 16x384 table \(reachable: 3\.0 to 3\.0\)"):
        LightToken(ratio=50).compress(torch.randn(16, 384))  # 8 code bits: one size only


def test_lighttoken_on_a_table_of_too_few_directions_says_so():
    # a rank-2 table: the codes' later bits repeat a column, and the decoder's least squares raised a LinAlgError
    generator = torch.Generator().manual_seed(0)
    low_rank = torch.randn(600, 2, generator=generator) @ torch.randn(2, 64, generator=generator)
    with pytest.raises(UserInputError, match="the table's rows span too few directions for this many code bits"):
        LightToken(ratio=8).compress(low_rank)


@pytest.mark.parametrize("method", [Svd(ratio=0.6), DirectionAE(ratio=0.6)])
def test_a_factorisation_refuses_a_rank_above_the_rows_of_a_short_table(method):
    """A table has at most min(rows, width) directions: on 40 rows of 96 (a small --vocab-rest domain, whose ratio
    can fall under 1) a rank of 55 is refused with the ratios rank 40 to 1 reach (direction-ae crashed on a shape
    mismatch; svd truncated to 40 and blamed its steps)."""
    table = torch.randn(40, 96, generator=torch.Generator().manual_seed(0))
    with pytest.raises(RatioOutOfReach, match=r"cannot reach ratio 0\.6 on a 40x96 table \(reachable: 0\.8 to \d+\)"):
        method.fit(table, 0)


@pytest.mark.parametrize(
    ("ratio", "reachable"), [(400, r"1\.9 to 170"), (250, r"1\.9 to 170"), (120, r"87\.6, 170\.2")]
)
def test_direction_ae_refuses_a_ratio_it_cannot_land_near_before_it_trains(table, ratio, reachable):
    """Past rank 1 (170x on this table) or between two ranks (2: 87.6x, 1: 170.2x): it trained for minutes at the
    nearest rank, then was refused as a step it could not land near."""
    refusal = rf"cannot reach ratio {ratio} on a 3000x96 table \(reachable: {reachable}\)"
    with pytest.raises(RatioOutOfReach, match=refusal):
        DirectionAE(ratio=ratio).fit(table, 0)


@pytest.mark.parametrize("ratio", [8.0, 12.0, 16.0])
def test_lighttoken_meets_the_ratio_within_five_percent(table, ratio):
    module = fit("lighttoken", table, ratio)
    achieved = table.numel() * 4 / module.stored_bytes()
    assert abs(achieved / ratio - 1) <= 0.05
    assert module.describe()["bits"] % 8 == 0


def test_lighttoken_beats_svd_at_the_same_ratio():
    # A table without low-rank structure, like all-MiniLM-L6-v2's (methods.md: truncated SVD is poor there).
    spread = torch.randn(3000, 96, generator=torch.Generator().manual_seed(2))
    ids = torch.arange(3000).reshape(30, 100)
    light = row_cosine(decode(fit("lighttoken", spread, 12.0), ids), spread[ids]).mean()
    svd = row_cosine(decode(fit("svd", spread, 12.0), ids), spread[ids]).mean()
    assert light > svd + 0.1


def test_lighttoken_codes_do_not_depend_on_the_summation_order():
    """One intra-op thread instead of two sums the products in another order, so the float rounding differs as it
    does on another CPU. The fit runs in float64 and flips a bit only past a tolerance far above that rounding, so
    its codes and decoder come out the same. (The straight-through fit it replaced changed about a quarter of its
    bits this way on all-MiniLM-L6-v2's table: docs/lighttoken-fit.md.)"""
    wide = torch.randn(20000, 64, generator=torch.Generator().manual_seed(5))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fit("lighttoken", wide, 10.0)
        torch.set_num_threads(2)
        two = fit("lighttoken", wide, 10.0)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one.codes, two.codes) and torch.equal(one.decoder.q, two.decoder.q)


def test_lighttoken_seed_draws_the_start_and_the_fit_is_as_good():
    method = LightToken(ratio=12.0)
    ids = torch.arange(3000).reshape(30, 100)
    spread = torch.randn(3000, 96, generator=torch.Generator().manual_seed(2))
    fits = [method.compress(spread, seed) for seed in (0, 1)]
    assert not torch.equal(fits[0].codes, fits[1].codes)
    quality = [float(row_cosine(decode(m, ids), spread[ids]).mean()) for m in fits]
    assert abs(quality[0] - quality[1]) < 0.01


def test_lighttoken_frequent_rows_come_out_exact():
    """The most frequent tokens get a slot and a correction row: they decode to their own row to int8 precision,
    where the codes alone leave a structureless table's rows well off."""
    table = torch.randn(3000, 96, generator=torch.Generator().manual_seed(2))
    counts = torch.zeros(3000, dtype=torch.float64)
    counts[2000:2100] = torch.arange(100, 0, -1, dtype=torch.float64) * 1000  # 100 frequent tokens, not the first ids
    stats = TokenStats(None, 3000)
    stats.__dict__["counts"] = counts  # fills the cached property: no tokenizer needed
    module = LightToken(ratio=12.0).compress(table, stats=stats)
    rows = module.describe()["frequent_rows"]
    assert rows == 88  # as many as an eighth of the 96 kB budget pays for
    frequent, rare = torch.arange(2000, 2000 + rows), torch.arange(0, 100)
    assert float(row_cosine(decode(module, frequent[None])[0], table[frequent]).min()) > 0.9999
    assert float(row_cosine(decode(module, rare[None])[0], table[rare]).mean()) < 0.95
    assert torch.equal(module.slots[frequent], torch.arange(1, rows + 1, dtype=torch.uint8))


class _Unpack(torch.nn.Module):
    def __init__(self, packed):
        super().__init__()
        self.register_buffer("packed", packed)
        self.register_buffer("lut", sign_lut())

    def forward(self, input_ids):
        return lookup(self.packed, self.lut, input_ids)


def test_onnx_unpacking_is_bit_exact(tmp_path):
    bits = torch.rand(3000, 40, generator=torch.Generator().manual_seed(3)) > 0.5
    path, ids = tmp_path / "unpack.onnx", torch.randint(0, 3000, (4, 9))
    torch.onnx.export(_Unpack(pack_bits(bits)), (ids,), str(path), input_names=["input_ids"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}}, opset_version=14, dynamo=False)  # fmt: skip
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids.numpy()})[0]
    assert np.array_equal(out, bits[ids].numpy().astype(np.float32) * 2 - 1)


def test_lighttoken_decode_stays_in_the_legacy_mobile_op_set(tmp_path, table):
    module = fit("lighttoken", table, 12.0)
    path = tmp_path / "embedding.onnx"
    ids = torch.randint(0, 3000, (2, 5))
    torch.onnx.export(EmbeddingHolder(module), (ids,), str(path), input_names=["input_ids"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}}, opset_version=14, dynamo=False)  # fmt: skip
    graph = load_graph(path)
    assert op_types(graph) <= {"Gather", "Cast", "Shape", "Slice", "Concat", "Reshape", "DequantizeLinear",
                               "MatMulInteger", "Mul", "Add", "Constant"}  # fmt: skip
    decoder = [t for t in graph.graph.initializer if t.name == "word_embeddings.decoder.q"]
    assert decoder and decoder[0].data_type == onnx.TensorProto.INT8  # stays int8, not folded to fp32


def test_lighttoken_without_token_counts_gives_the_exact_slots_to_the_rows_it_decodes_worst():
    """With no statistics (the API's fit(table, seed)) every count was 0 and the slots went to the lowest ids; they
    go to the rows the codes reproduce worst: here 100 rows of five times the norm, far from the codes' fit."""
    table = torch.randn(3000, 96, generator=torch.Generator().manual_seed(2))
    table[2000:2100] *= 5
    module = LightToken(ratio=12.0).fit(table, 0)
    slotted = torch.nonzero(module.slots).flatten()
    assert len(slotted) == 88 and bool(((slotted >= 2000) & (slotted < 2100)).all())
    assert float(row_cosine(decode(module, slotted[None])[0], table[slotted]).min()) > 0.9999
