"""Read facts off an ONNX graph: which nodes and tensors belong to a module scope, and how many bytes they hold.

The TorchScript exporter names nodes after the module path (`/model/embeddings/word_embeddings/Gather`) and
initializers after the parameter path (`model.embeddings.word_embeddings.codes`); quantization keeps those
prefixes (`..._quantized`, `..._scale`). That is how the embedding's nodes are excluded from quantization and
how its bytes are counted in the final graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    def node_names(self, model: onnx.ModelProto) -> list[str]:
        return [n.name for n in model.graph.node if n.name.startswith(self.node_prefix)]

    def stored_bytes(self, model: onnx.ModelProto) -> int:
        """Bytes of every initializer and Constant node in this scope."""
        initializers = sum(
            numpy_helper.to_array(t).nbytes for t in model.graph.initializer if t.name.startswith(self.tensor_prefix)
        )
        constants = sum(
            numpy_helper.to_array(attr.t).nbytes
            for node in model.graph.node
            if node.op_type == "Constant" and node.name.startswith(self.node_prefix)
            for attr in node.attribute
            if attr.name == "value"
        )
        return initializers + constants


def load_graph(path: Path) -> onnx.ModelProto:
    return onnx.load(str(path))


def op_types(model: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in model.graph.node}
