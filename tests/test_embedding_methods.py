"""Each embedding method: sizes, ratio accounting, decode quality, determinism, and the graph's own byte count."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from export.config import EmbeddingConfig
from export.embedding import METHODS, get_method
from export.embedding.svd import rank_for_ratio
from export.errors import UserInputError
from export.onnx_graph import Scope, load_graph


@pytest.fixture(scope="module")
def table():
    torch.manual_seed(0)
    # Low-rank structure plus noise, like a real table, so the SVD has something to find.
    return (torch.randn(3000, 16) @ torch.randn(16, 96) + 0.1 * torch.randn(3000, 96)).float()


def fit(name: str, table: torch.Tensor, ratio: float | None = None):
    method = get_method(name)
    return method.fit(table, EmbeddingConfig(name, method.resolve_ratio(ratio)))


def decode(module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module(ids)


def row_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b, dim=-1)


def test_registry_lists_the_spine_methods():
    assert {"none", "int8", "svd"} <= set(METHODS)


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
    assert ratio <= achieved < ratio * 1.15


def test_svd_quality_rises_with_rank(table):
    ids = torch.arange(3000).reshape(30, 100)
    low = row_cosine(decode(fit("svd", table, 16.0), ids), table[ids]).mean()
    high = row_cosine(decode(fit("svd", table, 4.0), ids), table[ids]).mean()
    assert 0.5 < low < high
    assert high > 0.99


@pytest.mark.parametrize("name", ["int8", "svd"])
def test_fitting_is_deterministic(table, name):
    first, second = fit(name, table, 8.0 if name == "svd" else None), fit(name, table, 8.0 if name == "svd" else None)
    for a, b in zip(first.buffers(), second.buffers(), strict=True):
        assert torch.equal(a, b)


def test_methods_refuse_bad_ratios():
    with pytest.raises(UserInputError, match="greater than 1"):
        get_method("svd").resolve_ratio(1.0)
    with pytest.raises(UserInputError, match="does not apply"):
        get_method("none").resolve_ratio(4.0)
    assert get_method("svd").resolve_ratio(None) == 8.0


class _Holder(torch.nn.Module):
    def __init__(self, embedding):
        super().__init__()
        self.word_embeddings = embedding

    def forward(self, input_ids):
        return self.word_embeddings(input_ids)


@pytest.mark.parametrize(("name", "ratio"), [("int8", None), ("svd", 8.0)])
def test_onnx_decode_matches_torch_and_graph_bytes_match(tmp_path, table, name, ratio):
    module = fit(name, table, ratio)
    path = tmp_path / "embedding.onnx"
    ids = torch.randint(0, 3000, (3, 17))
    torch.onnx.export(_Holder(module), (ids,), str(path), input_names=["input_ids"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}}, opset_version=14, dynamo=False)  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {"input_ids": ids.numpy()})[0]
    np.testing.assert_allclose(onnx_out, decode(module, ids).numpy(), rtol=0, atol=1e-6)
    assert Scope("word_embeddings").stored_bytes(load_graph(path)) == module.stored_bytes()
