"""`int4`: the linear weights (the encoder's, and the head's: BERT's pooler alone is 147 KB in int8, 2% of an
int4 bundle) as 4-bit codes with one fp32 scale per block of `block_size` input weights, symmetric
round-to-nearest, stored as ONNX Runtime's contrib MatMulNBits (uint8-packed codes: `.ort` has no INT4 tensor
type, and this form converts and loads). Everything else (an uncompressed table, position tables, layer norms) gets
the int8 pass.

The PyTorch model is rounded to the same grid first (`compress`), with ORT's own rule (scale = the block's
largest-magnitude weight / −8, codes clipped to [−8, 7]), so ORT's quantizer finds weights already on its grid
and reproduces them exactly: export parity holds the bundle to the model it ships, and distillation trains that
model (rounded again after training: `shipped`).

Why MatMulNBits and not uint8 codes decoded by standard ops into an int8 MatMul: a decode that depends on no
input is constant-folded by the `.ort` conversion (the stored weights come out dense again), and an `.ort` loaded
in ONNX Runtime does not fold it at load, so kept unfolded it is decoded on every call (measured in
docs/encoder.md).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import UserInputError
from .base import EncoderMethod, encoder_of, linear_layers_to_compress
from .calibration import InputMoments
from .int8 import quantize_int8

BITS = 4
LOWEST, HIGHEST = -(2 ** (BITS - 1)), 2 ** (BITS - 1) - 1  # ORT's symmetric 4-bit range


def block_for(block_size: int, smallest_input: int) -> int:
    """The block size used: `block_size`, or the largest power of two (16 at least) within the narrowest layer's
    inputs, so a small model's blocks are not mostly padding."""
    fitting = 2 ** max(4, int(math.log2(smallest_input)))
    return min(block_size, fitting)


def codes_and_scales(
    weight: torch.Tensor, block_size: int, scale_dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes [out, blocks, block_size] in [-8, 7], scales [out, blocks, 1]) of `weight` [out, in] in symmetric
    4-bit blocks of `block_size` inputs, by ORT's MatMulNBits rule (scale = the block's largest-magnitude weight
    / -8; the last block padded with zeros); `scale_dtype`: the type the scales are stored in (each scale rounded
    to it first, then held in the weight's type)."""
    rows, columns = weight.shape
    padded = nn.functional.pad(weight, (0, -columns % block_size)).reshape(rows, -1, block_size)
    largest = padded.gather(2, padded.abs().argmax(dim=2, keepdim=True))
    scale = (largest / LOWEST).to(scale_dtype)
    if scale_dtype == torch.float16:
        # a subnormal fp16 scale is too coarse for the grid to round to itself (int4-as-int8 checks that it does):
        # at least the smallest normal one; its step, 6.1e-5, rounds a block of weights under 4.9e-4 to within a
        # step, far finer than the int4 step of any block of a trained layer's weights
        smallest = torch.full_like(scale, torch.finfo(torch.float16).tiny)
        scale = torch.where((scale != 0) & (scale.abs() < smallest), smallest.copysign(scale), scale)
    scale = scale.to(weight.dtype)
    divisor = torch.where(scale == 0, torch.ones_like(scale), scale)  # an all-zero block: codes 0, scale 0
    return torch.clamp(torch.round(padded / divisor), LOWEST, HIGHEST), scale


def round_to_blocks(
    weight: torch.Tensor, block_size: int, scale_dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """`weight` [out, in] rounded to its 4-bit codes × block scales (codes_and_scales), as ORT's MatMulNBits
    quantizer rounds it."""
    codes, scale = codes_and_scales(weight, block_size, scale_dtype)
    return (codes * scale).reshape(weight.shape[0], -1)[:, : weight.shape[1]]


def weight_matmuls(model, names: list[str]) -> list[str]:
    """The MatMuls among the nodes `names` whose second input is a weight (an initializer): the linear layers,
    not attention's activation products. The quantizer logs an error for every other node it is handed."""
    weights = {t.name for t in model.graph.initializer}
    wanted = set(names)
    return [n.name for n in model.graph.node if n.name in wanted and n.op_type == "MatMul" and n.input[1] in weights]


def head_linear_layers(model: nn.Module) -> dict[str, nn.Linear]:
    """The linear layers outside the encoder and the token table: the pooler, the classifier (and ELECTRA's
    embedding projection)."""
    inside = {id(m) for part in (encoder_of(model), model.get_input_embeddings()) for m in part.modules()}
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear) and id(m) not in inside}


def gemms_as_matmuls(model, keep: list[str]):
    """Every Gemm with a constant weight (a linear layer on one vector per text: BERT's pooler, the classifier)
    outside `keep` rewritten as MatMul + Add, so the 4-bit quantizer takes it (it reads MatMuls only; and the int8
    pass has no Gemm kernel either: the pooler's fp32 weight alone is 0.59 MB of all-MiniLM-L6-v2)."""
    from onnx import helper, numpy_helper

    weights = {t.name: t for t in model.graph.initializer}
    kept, replaced, nodes = set(keep), set(), []
    for node in model.graph.node:
        settings = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = settings.get("alpha", 1.0) == 1.0 and settings.get("beta", 1.0) == 1.0 and not settings.get("transA")
        if node.op_type != "Gemm" or node.input[1] not in weights or not plain or node.name in kept:
            nodes.append(node)
            continue
        name = f"{node.input[1]}_as_matmul{'_t' if settings.get('transB') else ''}"
        if name not in weights:  # two Gemms reading one weight share its copy
            weight = numpy_helper.to_array(weights[node.input[1]])
            weights[name] = numpy_helper.from_array(weight.T.copy() if settings.get("transB") else weight, name)
            model.graph.initializer.append(weights[name])
        replaced.add(node.input[1])
        stem = node.name.removesuffix("Gemm")
        product = node.output[0] + "_matmul" if len(node.input) > 2 else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product], name=stem + "MatMul"))
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=stem + "Add"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    read = {name for node in model.graph.node for name in node.input}
    for name in replaced - read:  # the Gemms' own weights, now unread
        model.graph.initializer.remove(weights[name])
    return model


@dataclass(frozen=True)
class Int4Encoder(EncoderMethod):
    name = "int4"
    summary = "4-bit weights, one scale per block of inputs (ORT MatMulNBits; ~7x vs fp32)"
    lossy = True  # 4-bit rounding moves outputs far more than int8's; the int8 pass then rounds the rest
    # inputs per scale: 16, 32, 64, 128 or 256. 128 is the largest that keeps accuracy (docs/encoder.md): each
    # scale is an fp32 (MatMulNBits stores them in the activations' type), 0.25 bits per weight at 128.
    block_size: int = 128
    scale_dtype: ClassVar[torch.dtype] = torch.float32  # MatMulNBits keeps scales in the activations' type

    def check(self) -> None:
        super().check()
        if self.block_size not in (16, 32, 64, 128, 256):
            raise UserInputError(f"int4 block_size must be 16, 32, 64, 128 or 256 (got {self.block_size})")

    def compress(self, encoder: nn.Module, seed: int, moments: InputMoments | None = None) -> dict[str, Any]:
        layers = linear_layers_to_compress(encoder)
        block = block_for(self.block_size, min(layer.in_features for layer in layers.values()))
        with torch.no_grad():
            for layer in layers.values():
                layer.weight.copy_(round_to_blocks(layer.weight, block, self.scale_dtype))
        return {"bits": BITS, "block_size_used": block, "layers": len(layers)}

    def shipped(self, model: nn.Module) -> nn.Module:
        rounded = copy.deepcopy(model)  # distillation moved the weights off the grid
        facts = self.compress(encoder_of(rounded), seed=0)
        with torch.no_grad():
            for layer in head_linear_layers(rounded).values():
                layer.weight.copy_(round_to_blocks(layer.weight, facts["block_size_used"], self.scale_dtype))
        return rounded

    def quantize(
        self, onnx_model: Path, keep: list[str], encoder_nodes: list[str], facts: dict[str, Any], out: Path
    ) -> Path:
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        model = gemms_as_matmuls(onnx.load(str(onnx_model)), keep)
        kept = set(keep)  # the compressed table's nodes; every other linear layer is the encoder's or the head's
        included = set(weight_matmuls(model, [n.name for n in model.graph.node if n.name not in kept]))
        others = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name not in included]
        quantizer = MatMulNBitsQuantizer(
            model,
            bits=BITS,
            block_size=facts["block_size_used"],  # the grid compress rounded PyTorch's weights to
            is_symmetric=True,
            accuracy_level=4,  # int8 activations per block: ORT's integer-dot kernels
            nodes_to_include=sorted(included),
            # which only adds to the quantizer's own choice (every weight MatMul): the rest is excluded by name
            nodes_to_exclude=[*keep, *others],
            op_types_to_quantize=("MatMul",),
        )
        quantizer.process()
        four_bit = out.with_name(out.stem + "-int4.onnx")
        onnx.save(quantizer.model.model, str(four_bit))
        return quantize_int8(four_bit, keep, out)  # MatMulNBits nodes are not MatMuls: the int8 pass skips them
