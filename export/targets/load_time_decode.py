"""A graph's weight decode moved into a model of its own, run once when the app loads the bundle.

Some encoder methods store weights in a form that standard ops decode (int4-as-int8: 4-bit codes decoded into
the int8 weights of ORT's dynamic int8 MatMuls). That decode reads no input. ONNX Runtime folds it when it loads an
`.onnx` file, but the `.ort` conversion folds it into the file (8-bit again), and with folding off an `.ort` runs
it on every call. So for `.ort` the decode is cut out: `weights` computes the decoded tensors from the stored
ones, `main` is the rest of the graph and takes the decoded tensors as extra inputs of the same names. A runtime
runs `weights` once and hands its outputs to every call of `main` (runtime_py/session.py; the Java core's
EdgeModel). ORT still fuses `main`'s int8 MatMuls with their weights as inputs; what it loses is packing them
once at load, so each call packs them again (measured in docs/encoder.md).

What is cut: every node with at least one input whose inputs are all initializers, Constant nodes' values or
outputs of such nodes, i.e. the subgraphs that constant folding would remove (a Constant node goes with the graph
that reads it, or both). The exporter's own graphs have none (torch.onnx folds constants when it exports) until
an encoder method adds a decode, but for DeBERTa's relative-position projections (architectures.py's
`computes_at_load`), whose fp32 results are larger than the weights they come from.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import ModelProto, helper, shape_inference

from ..onnx_graph import subgraphs


@dataclass(frozen=True)
class SplitModel:
    main: ModelProto  # the graph without the decode; the decoded tensors are graph inputs
    weights: ModelProto  # no inputs; outputs the decoded tensors, named as `main` reads them


def split_load_time_decode(model: ModelProto) -> SplitModel | None:
    """`model` split into its load-time decode and the rest; None when it has no decode."""
    constant = {t.name for t in model.graph.initializer}
    decode = []
    for node in model.graph.node:  # topologically sorted, as ONNX requires
        if not node.input:  # a Constant node: its value is known, like an initializer's
            constant.update(node.output)
        elif all(name in constant or name == "" for name in [*node.input, *_outer_reads(node)]):
            decode.append(node)  # an If's branches may read the outer scope: those values must be known too
            constant.update(node.output)
    if not decode:
        return None
    in_decode = {id(node) for node in decode}
    read_by_decode = {name for node in decode for name in node.input}
    values = [node for node in model.graph.node if not node.input]
    others = [node for node in model.graph.node if node.input and id(node) not in in_decode]
    read_by_rest = _read_by(others) | {output.name for output in model.graph.output}
    # each Constant node goes with the graph that reads it (both, when both do)
    decode = [node for node in values if set(node.output) & read_by_decode] + decode
    rest = [node for node in model.graph.node if id(node) not in in_decode and (node.input or set(node.output) &
                                                                                 read_by_rest)]  # fmt: skip
    produced = [name for node in decode for name in node.output]
    handed_over = [name for name in produced if name in read_by_rest]
    types = _value_infos(model, handed_over)
    initializers = model.graph.initializer

    weights_graph = helper.make_graph(
        decode, "weights", [], [types[name] for name in handed_over],
        [t for t in initializers if t.name in read_by_decode],
    )  # fmt: skip
    main_graph = helper.make_graph(
        rest, model.graph.name, [*model.graph.input, *(types[name] for name in handed_over)],
        list(model.graph.output), [t for t in initializers if t.name in read_by_rest],
    )  # fmt: skip
    return SplitModel(_like(model, main_graph), _like(model, weights_graph))


def _outer_reads(node: onnx.NodeProto) -> set[str]:
    """What `node`'s subgraphs (an If's branches) read from the scope around them."""
    return {name for graph in subgraphs(node) for name in _read_by(list(graph.node)) - _defined_in(graph)}


def _defined_in(graph: onnx.GraphProto) -> set[str]:
    """The names a graph and its nested subgraphs define: inputs, initializers and node outputs."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    for node in graph.node:
        defined.update(node.output)
        for inner in subgraphs(node):
            defined |= _defined_in(inner)
    return defined


def _read_by(nodes: list[onnx.NodeProto]) -> set[str]:
    """The tensors `nodes` read, their subgraphs' (If branches') reads from the outer scope included."""
    read = set()
    for node in nodes:
        read.update(node.input)
        for graph in subgraphs(node):
            read |= _read_by(list(graph.node))
    return read


def _value_infos(model: ModelProto, names: list[str]) -> dict[str, onnx.ValueInfoProto]:
    """Type and shape of each named tensor, by ONNX shape inference (the decode's shapes are all static)."""
    inferred = shape_inference.infer_shapes(model)
    known = {info.name: info for info in inferred.graph.value_info}
    missing = [name for name in names if name not in known]
    if missing:
        raise ValueError(f"shape inference gave no type for the decoded tensors {missing[:3]}")
    return {name: known[name] for name in names}


def _like(model: ModelProto, graph: onnx.GraphProto) -> ModelProto:
    """A model of `graph` with `model`'s opsets, IR version and producer."""
    made = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name=model.producer_name,
                             producer_version=model.producer_version)  # fmt: skip
    made.ir_version = model.ir_version
    return made
