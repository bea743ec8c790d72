"""Sibling MatMuls fused after export (export/sibling_matmuls.py): fewer kernels, the same outputs."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from test_tiny_exports import export

from export import stages
from export.sibling_matmuls import fuse_sibling_matmuls

PREFIX = "/model/encoder/"


def weight(name: str, rows: int, columns: int, seed: int) -> onnx.TensorProto:
    values = np.random.default_rng(seed).standard_normal((rows, columns)).astype(np.float32)
    return numpy_helper.from_array(values if columns else values[:, 0], name)


def bias(name: str, width: int, seed: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(width).astype(np.float32), name)


def graph_with_siblings() -> onnx.ModelProto:
    """x [n, 4] read by: q, k, v (MatMul + bias Add, widths 3, 3, 5); u1 and u2 (the same weight, multiplied
    together after); s (a weight that y's MatMul reads too); and o, outside the prefix."""
    nodes, outputs = [], []
    for name, width in [("q", 3), ("k", 3), ("v", 5)]:
        nodes += [helper.make_node("MatMul", ["x", f"w_{name}"], [f"{name}_mm"], name=f"{PREFIX}{name}/MatMul"),
                  helper.make_node("Add", [f"{name}_mm", f"b_{name}"], [name], name=f"{PREFIX}{name}/Add")]  # fmt: skip
        outputs.append((name, width))
    for name, w, reads in [("u1", "w_u", "x"), ("u2", "w_u", "x"), ("s", "w_s", "x"), ("t", "w_s", "y"),
                           ("o", "w_o", "x")]:  # fmt: skip
        prefix = "/model/head/" if name == "o" else PREFIX
        nodes.append(helper.make_node("MatMul", [reads, w], [name], name=f"{prefix}{name}/MatMul"))
        outputs += [] if name.startswith("u") else [(name, 2)]
    nodes.append(helper.make_node("Mul", ["u1", "u2"], ["u"], name=f"{PREFIX}u/Mul"))
    outputs.append(("u", 2))
    initializers = [weight("w_q", 4, 3, 0), weight("w_k", 4, 3, 1), weight("w_v", 4, 5, 2), weight("w_u", 4, 2, 3),
                    weight("w_s", 4, 2, 4), weight("w_o", 4, 2, 5), bias("b_q", 3, 6), bias("b_k", 3, 7),
                    bias("b_v", 5, 8)]  # fmt: skip
    graph = helper.make_graph(
        nodes, "siblings",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n", 4]) for name in ("x", "y")],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n", width]) for name, width in outputs],
        initializers,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def run(model: onnx.ModelProto) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(9)
    feeds = {name: rng.standard_normal((6, 4)).astype(np.float32) for name in ("x", "y")}
    return session.run(None, feeds)


def test_siblings_become_one_matmul_and_a_split_with_the_same_outputs():
    """q, k and v (with their biases) become one MatMul, one Add and a Split; u's two copies one MatMul, which
    has no bias and so stays apart from them; s keeps its own (its weight is read by t too), and o is outside the
    prefix. (Split widths in the wrong order give v's columns to q and fail the comparison.)"""
    model = graph_with_siblings()
    before = run(model)
    removed = fuse_sibling_matmuls(model, PREFIX)
    onnx.checker.check_model(model)
    after = run(model)
    assert removed == 3
    assert Counter(n.op_type for n in model.graph.node) == {"MatMul": 5, "Add": 1, "Split": 1, "Mul": 1}
    assert {t.name for t in model.graph.initializer} >= {"w_q_siblings", "b_q_siblings", "w_s", "w_o"}
    assert not {t.name for t in model.graph.initializer} & {"w_q", "w_k", "w_v", "b_q", "b_k", "b_v"}
    for expected, got in zip(before, after, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_a_fused_tucker_bundle_gives_the_same_outputs_in_fewer_integer_kernels(
    tmp_path, tiny_checkpoint, monkeypatch
):
    """The tiny classifier with a tucker encoder, exported with and without the fusion: the same golden outputs
    bit for bit (each output is the same integer dot product, with per-column scales), two integer MatMuls fewer
    a layer (query, key and value's core products), and a smaller file."""
    checkpoint = tiny_checkpoint("bert-classifier")
    flags = ("--embedding", "int8", "--encoder", "tucker", "--encoder-ratio", "2", "--target", "onnx")
    fused, report, _ = export(tmp_path / "fused", checkpoint, "bert", *flags)
    monkeypatch.setattr(stages, "fuse_in_file", lambda path, scope: 0)
    plain, plain_report, _ = export(tmp_path / "plain", checkpoint, "bert", *flags)

    def integer_matmuls(folder) -> int:
        return sum(n.op_type == "MatMulInteger" for n in onnx.load(str(folder / "model.onnx")).graph.node)

    layers = json.loads((checkpoint / "config.json").read_text())["num_hidden_layers"]
    assert integer_matmuls(plain) - integer_matmuls(fused) == 2 * layers
    assert report["size"]["model_bytes"] < plain_report["size"]["model_bytes"]
    golden = [json.loads((folder / "golden.json").read_text())["probes"] for folder in (fused, plain)]
    assert [p["bundle"] for p in golden[0]] == [p["bundle"] for p in golden[1]]
