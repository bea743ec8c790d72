"""Read facts off an ONNX graph: which nodes and tensors belong to a module scope, and how many bytes they hold
(and one edit that makes those facts true to what is stored: bypass_weight_copies).

The TorchScript exporter names nodes after the module path (`/model/embeddings/word_embeddings/Gather`) and
initializers after the parameter path (`model.embeddings.word_embeddings.codes`); quantization keeps those
prefixes (`..._quantized`, `..._scale`). That is how the embedding's nodes are excluded from quantization and
how its bytes are counted in the final graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


@dataclass(frozen=True)
class Scope:
    """A module's place in the exported graph, from its dotted path in the exported nn.Module."""

    module_path: str

    @property
    def node_prefix(self) -> str:
        return "/" + self.module_path.replace(".", "/") + "/"

    @property
    def tensor_prefix(self) -> str:
        return self.module_path + "."

    def in_graph(self, model: onnx.ModelProto) -> Scope:
        """This scope as `model` names it: itself, or under the one wrapper module an exporter put around the HF
        model (optimum exports a sentence-transformers checkpoint as its module list: `/0/encoder/...`)."""
        if self.node_names(model):
            return self
        names = [n.name for n in model.graph.node]
        wrappers = {name[: name.index(self.node_prefix)] for name in names if self.node_prefix in name}
        if len(wrappers) != 1:
            raise ValueError(f"no single place holds {self.module_path}'s nodes in the graph: {sorted(wrappers)}")
        return Scope(wrappers.pop().strip("/").replace("/", ".") + "." + self.module_path)

    def node_names(self, model: onnx.ModelProto) -> list[str]:
        return [n.name for n in model.graph.node if n.name.startswith(self.node_prefix)]

    def stored_bytes(self, model: onnx.ModelProto) -> int:
        """Bytes of every initializer and Constant node in this scope: initializers named after its parameters,
        and those only its nodes read (the exporter names a folded, transposed MatMul weight `onnx::MatMul_N`)."""
        return weight_bytes(model, self.tensor_prefix, self.node_prefix) + sum(
            numpy_helper.to_array(model.graph.initializer[i]).nbytes for i in self._read_only_here(model)
        )

    def _read_only_here(self, model: onnx.ModelProto) -> list[int]:
        """Indices of the initializers outside the parameter prefix that only this scope's nodes read."""
        readers: dict[str, set[bool]] = {}
        for node in model.graph.node:
            for name in node.input:
                readers.setdefault(name, set()).add(node.name.startswith(self.node_prefix))
        return [
            i
            for i, t in enumerate(model.graph.initializer)
            if not t.name.startswith(self.tensor_prefix) and readers.get(t.name) == {True}
        ]


def weight_bytes(model: onnx.ModelProto, tensor_prefix: str, node_prefix: str) -> int:
    """Bytes of the initializers and Constant node values whose names start with the prefixes."""
    initializers = sum(
        numpy_helper.to_array(t).nbytes for t in model.graph.initializer if t.name.startswith(tensor_prefix)
    )
    constants = sum(
        numpy_helper.to_array(attr.t).nbytes
        for node in model.graph.node
        if node.op_type == "Constant" and node.name.startswith(node_prefix)
        for attr in node.attribute
        if attr.name == "value"
    )
    return initializers + constants


def token_embedding_gather(model: onnx.ModelProto) -> onnx.NodeProto:
    """The Gather that looks a table up by the `input_ids` input: the token embedding. For graphs whose embedding
    module is not known by name, such as optimum's exports. Without one, the Gather of the biggest table (the
    largest is the token table but in small-vocabulary models, whose position table can be larger)."""
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    gathers = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] in sizes]
    if not gathers:
        raise ValueError("no Gather reads an initializer: cannot find the token embedding")
    by_ids = [n for n in gathers if n.input[1] == "input_ids"]
    return by_ids[0] if len(by_ids) == 1 else max(gathers, key=lambda n: sizes[n.input[0]])


def size_breakdown(embedding_bytes: int, encoder_bytes: int, file_bytes: int) -> dict[str, int]:
    """A shipped model file split three ways: the token embedding as stored, the encoder's layers as stored
    (both counted in the ONNX graph), and everything else (position and type tables, norms outside the encoder,
    the head, the graph and its format; `file_bytes` may be the .ort conversion's)."""
    other = file_bytes - embedding_bytes - encoder_bytes
    return {"embedding": embedding_bytes, "encoder": encoder_bytes, "other": other}


def token_table_bytes(model: onnx.ModelProto) -> int:
    """Bytes of the table the token-embedding Gather reads (an int8 table's one scale and zero point, 5 bytes,
    are not counted)."""
    table = token_embedding_gather(model).input[0]
    return next(numpy_helper.to_array(t).nbytes for t in model.graph.initializer if t.name == table)


def load_graph(path: Path) -> onnx.ModelProto:
    return onnx.load(str(path))


def op_types(model: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in model.graph.node}


def bypass_weight_copies(model: onnx.ModelProto) -> int:
    """Readers of an Identity that copies an initializer read the initializer itself; the Identity goes. Returns
    how many went.

    The TorchScript exporter gives a parameter's second use (DeBERTa's query and key projections, applied to the
    tokens and to the relative-position table) and a parameter equal to another one such a copy. ORT's quantizer
    takes a MatMul's weight only when it is an initializer, so the copy's MatMul stayed fp32 and kept a second,
    fp32 copy of a weight already stored int8. The same graph, without the detour (onnxoptimizer's
    eliminate_identity does this, but is not a dependency for one pass; subgraphs' outer-scope reads included)."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    graph_outputs = {output.name for output in model.graph.output}
    source = {
        node.output[0]: node.input[0]
        for node in model.graph.node
        if node.op_type == "Identity" and node.input[0] in initializers and node.output[0] not in graph_outputs
    }
    if not source:
        return 0
    kept = [node for node in model.graph.node if not (node.op_type == "Identity" and node.output[0] in source)]
    _rename_inputs(kept, source)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return len(source)


def _rename_inputs(nodes, renamed: dict[str, str]) -> None:
    """Every input of `nodes`, and of the nodes of their subgraphs (If branches), read through `renamed`."""
    for node in nodes:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
        for graph in subgraphs(node):
            _rename_inputs(graph.node, renamed)


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs a node holds as attributes (an If's two branches, a Loop's body)."""
    return [g for a in node.attribute for g in ([a.g] if a.HasField("g") else list(a.graphs))]
