"""The builds a user would pick instead of this project, each made with its own tools.

    python benchmarks/competitors.py gather4 FP32_DIR OUT_DIR   # (c) below; (a) and (b) are optimum-cli commands

(a) fp32: `optimum-cli export onnx --model M --task T OUT`.
(b) int8: `optimum-cli onnxruntime quantize --onnx_model OUT --arm64 -o Q` on (a): dynamic int8, the token table
    included (one scale for the whole table).
(c) 4-bit table + int8 rest: (b)'s int8 config quantizes everything but the token-embedding Gather of (a);
    then ONNX Runtime's own block quantizer (MatMulNBitsQuantizer, its defaults: 4 bits, blocks of 128,
    asymmetric) turns that Gather into com.microsoft.GatherBlockQuantized. The quantizer writes UINT4 tensors,
    which the .ort format cannot hold, so they are repacked into uint8 with the op's `bits` attribute (the form
    that loads from ORT 1.23 on, in .onnx and .ort alike). This order, because the int8 quantizer cannot infer
    types through the contrib op.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.onnx_graph import token_embedding_gather

FOUR_BIT = (TensorProto.UINT4, TensorProto.INT4)


def pack_rows(values: np.ndarray) -> np.ndarray:
    """4-bit values [..., n] → uint8 [..., ceil(n/2)], two per byte, low nibble first, each row on its own."""
    if values.shape[-1] % 2:
        values = np.concatenate([values, np.zeros((*values.shape[:-1], 1), values.dtype)], axis=-1)
    return (values[..., 0::2] & 0xF | (values[..., 1::2] & 0xF) << 4).astype(np.uint8)


def repack_as_uint8(model: onnx.ModelProto) -> None:
    """UINT4/INT4 inputs of GatherBlockQuantized → uint8 tensors packed per row, with the `bits` attribute."""
    initializers = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "GatherBlockQuantized":
            continue
        for name in node.input:
            tensor = initializers.get(name)
            if tensor is None or tensor.data_type not in FOUR_BIT:
                continue
            if tensor.data_type == TensorProto.INT4:  # signed values; uint8 data means "subtract the zero point"
                raise ValueError("symmetric INT4 tables are not repacked; use the quantizer's asymmetric default")
            packed = pack_rows(numpy_helper.to_array(tensor).astype(np.uint8))
            tensor.CopyFrom(numpy_helper.from_array(packed, name))
        node.attribute.append(helper.make_attribute("bits", 4))


def quantize_table_4bit(model_path: Path, gather_name: str) -> None:
    """Rewrites the model file in place: only `gather_name` is touched (every other Gather is excluded)."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(model_path)
    others = [n.name for n in model.graph.node if n.op_type == "Gather" and n.name != gather_name]
    quantizer = MatMulNBitsQuantizer(model, op_types_to_quantize=("Gather",), nodes_to_exclude=others)
    quantizer.process()
    quantized = quantizer.model.model
    repack_as_uint8(quantized)
    onnx.save(quantized, model_path)


def build_gather4(fp32_dir: Path, out_dir: Path) -> Path:
    """(c) from optimum's fp32 export folder; returns the quantized model file."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    gather = token_embedding_gather(onnx.load(fp32_dir / "model.onnx")).name
    config = AutoQuantizationConfig.arm64(is_static=False, per_channel=False, nodes_to_exclude=[gather])
    ORTQuantizer.from_pretrained(fp32_dir).quantize(save_dir=out_dir, quantization_config=config)
    model_path = out_dir / "model_quantized.onnx"
    quantize_table_4bit(model_path, gather)
    return model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["gather4"])
    parser.add_argument("fp32_dir", type=Path, help="optimum-cli's fp32 export folder (model.onnx)")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the quantizers log every node
    print(build_gather4(args.fp32_dir, args.out_dir))


if __name__ == "__main__":
    main()
