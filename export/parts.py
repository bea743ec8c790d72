"""The compressed parts of a model, each stored in its own form (the token table, the encoder): the encoder
method's passes leave the table's nodes alone, the size report counts each part's bytes apart, and export parity
widens its margin for every part that changes the model's outputs."""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from .onnx_graph import Scope


@dataclass(frozen=True)
class CompressedPart:
    name: str  # "token embedding", "encoder"
    scope: Scope  # where its nodes and tensors sit in the exported ONNX graph
    lossy: bool  # its outputs differ from the original module's (config.Tolerance.margin_for)
    quantizable: bool  # the encoder method's passes may rewrite it (the encoder, an uncompressed fp32 table)

    def stored_bytes(self, graph: onnx.ModelProto) -> int:
        return self.scope.stored_bytes(graph)


def nodes_to_keep(parts: list[CompressedPart], graph: onnx.ModelProto) -> list[str]:
    """The nodes of every part the int8 pass must not re-quantize."""
    return [name for part in parts if not part.quantizable for name in part.scope.node_names(graph)]


def lossy_parts(parts: list[CompressedPart]) -> list[str]:
    return [part.name for part in parts if part.lossy]
