"""Sibling MatMuls of the exported encoder fused into one: the MatMuls that read the same activation with constant
weights of the same input width (attention's query, key and value; a Tucker layer's three core products; a
low-rank layer's three down-projections) become one MatMul over the weights side by side and a Split, and
MatMuls that read the same activation and the same weight (Tucker's x·U, traced once for each of query, key and
value) become one.

Why: the int8 pass gives every MatMul its own integer kernel call, and at MiniLM's widths (a Tucker core is
186 × 186) the calls, not the multiply-adds, are much of a layer's time. Each output element is the same dot
product as before and per-channel int8 keeps one scale per output column, so the bundle computes what it did,
in fewer and wider kernels. A bias Add after every sibling is fused too (biases side by side, before the Split), so
ONNX Runtime still folds the bias into its int8 kernel. A weight that another node also reads is left alone:
concatenating it would store it twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .onnx_graph import Scope

SUFFIX = "_siblings"


@dataclass(frozen=True)
class Sibling:
    """A MatMul of a constant weight [K, N], and the bias Add that reads only its output (if any)."""

    matmul: onnx.NodeProto
    add: onnx.NodeProto | None
    bias: str | None

    @property
    def weight(self) -> str:
        return self.matmul.input[1]

    @property
    def output(self) -> str:
        """The tensor the rest of the graph reads: the Add's output, or the MatMul's without a bias."""
        return self.add.output[0] if self.add is not None else self.matmul.output[0]


def fuse_sibling_matmuls(model: onnx.ModelProto, node_prefix: str) -> int:
    """Fuses the sibling MatMuls among the nodes named under `node_prefix`, in place; returns how many MatMuls
    were removed."""
    removed = _merge_identical(model, node_prefix)
    weights = {t.name: t for t in model.graph.initializer}
    for group in _groups(model, node_prefix, weights):
        _fuse(model, group, weights)
        removed += len(group) - 1
    used = {name for node in model.graph.node for name in node.input}
    produced = {name for node in model.graph.node for name in node.output}
    _keep_only(model.graph.initializer, lambda t: t.name in used)
    _keep_only(model.graph.value_info, lambda v: v.name in produced)
    return removed


def _keep_only(entries, wanted) -> None:
    kept = [entry for entry in entries if wanted(entry)]
    del entries[:]
    entries.extend(kept)


def _matmuls_of_weights(model: onnx.ModelProto, node_prefix: str) -> list[onnx.NodeProto]:
    """The scope's MatMuls of an activation (not a constant) by a 2-D constant weight."""
    weights = {t.name: t for t in model.graph.initializer}
    return [n for n in model.graph.node
            if n.op_type == "MatMul" and n.name.startswith(node_prefix) and n.input[0] not in weights
            and n.input[1] in weights and len(weights[n.input[1]].dims) == 2]  # fmt: skip


def _merge_identical(model: onnx.ModelProto, node_prefix: str) -> int:
    """MatMuls of the same activation by the same weight: the first stays, the others' readers read it."""
    first: dict[tuple[str, str], str] = {}
    renamed: dict[str, str] = {}
    duplicates = []
    graph_outputs = {output.name for output in model.graph.output}
    for node in _matmuls_of_weights(model, node_prefix):
        key = (node.input[0], node.input[1])
        if key in first and node.output[0] not in graph_outputs:
            renamed[node.output[0]] = first[key]
            duplicates.append(node)
        else:
            first[key] = node.output[0]
    for node in duplicates:
        model.graph.node.remove(node)
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    return len(duplicates)


def _groups(model: onnx.ModelProto, node_prefix: str, weights: dict) -> list[list[Sibling]]:
    """Groups of two or more MatMuls that read one activation, each by a weight of the same K read by it alone,
    all with a bias Add or all without."""
    readers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in model.graph.node:
        for name in set(node.input):
            readers[name].append(node)
    by_input: dict[tuple[str, int, bool], list[Sibling]] = defaultdict(list)
    for node in _matmuls_of_weights(model, node_prefix):
        weight = weights[node.input[1]]
        if len(readers[weight.name]) == 1 and weight.data_type == onnx.TensorProto.FLOAT:
            sibling = _with_bias(node, readers, weights)
            by_input[(node.input[0], weight.dims[0], sibling.add is not None)].append(sibling)
    return [siblings for siblings in by_input.values() if len(siblings) > 1]


def _with_bias(node: onnx.NodeProto, readers: dict, weights: dict) -> Sibling:
    """The MatMul with its bias: the one Add that reads its output and a 1-D constant of its width only."""
    after = readers[node.output[0]]
    if len(after) == 1 and after[0].op_type == "Add":
        add = after[0]
        bias = next((name for name in add.input if name != node.output[0]), None)
        width = weights[node.input[1]].dims[1]
        if bias in weights and list(weights[bias].dims) == [width] and len(readers[bias]) == 1:
            return Sibling(node, add, bias)
    return Sibling(node, None, None)


def _fuse(model: onnx.ModelProto, group: list[Sibling], weights: dict) -> None:
    """One MatMul (and Add) over the group's weights side by side, then a Split into the tensors it gave."""
    nodes = model.graph.node
    first = group[0].matmul
    base = first.name + SUFFIX
    arrays = [numpy_helper.to_array(weights[s.weight]) for s in group]
    weight = numpy_helper.from_array(np.concatenate(arrays, axis=1), group[0].weight + SUFFIX)
    widths = numpy_helper.from_array(np.array([a.shape[1] for a in arrays], dtype=np.int64), base + ".widths")
    new = [helper.make_node("MatMul", [first.input[0], weight.name], [base + "/out"], name=base)]
    product = base + "/out"
    tensors = [weight, widths]
    if group[0].add is not None:
        biases = [numpy_helper.to_array(weights[s.bias]) for s in group]
        bias = numpy_helper.from_array(np.concatenate(biases), group[0].bias + SUFFIX)
        tensors.append(bias)
        new.append(helper.make_node("Add", [product, bias.name], [base + "/biased"], name=base + "/Add"))
        product = base + "/biased"
    new.append(helper.make_node("Split", [product, widths.name], [s.output for s in group], name=base + "/Split",
                                axis=-1))  # fmt: skip
    position = list(nodes).index(first)
    for sibling in group:
        nodes.remove(sibling.matmul)
        if sibling.add is not None:
            nodes.remove(sibling.add)
    for offset, node in enumerate(new):
        nodes.insert(position + offset, node)
    model.graph.initializer.extend(tensors)


def fuse_in_file(path: Path, scope: Scope) -> int:
    """fuse_sibling_matmuls on the ONNX file at `path` (rewritten in place), within `scope`'s nodes."""
    model = onnx.load(str(path))
    removed = fuse_sibling_matmuls(model, scope.in_graph(model).node_prefix)
    if removed:
        onnx.save(model, str(path))
    return removed
