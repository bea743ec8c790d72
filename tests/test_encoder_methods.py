"""Encoder methods (--encoder): each on tiny models of every preset architecture (their linear layers differ in
shape and name), their ONNX form, what they store, and export parity against the PyTorch model they ship."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from test_tiny_exports import ARCHITECTURES, _export_twice, export

from export import Int8, Tucker, UserInputError, build
from export.encoder import encoder_of, linear_layers
from export.encoder.int4 import block_for, round_to_blocks


def _ort_matmulnbits_weight(weight: np.ndarray, block_size: int) -> np.ndarray:
    """The weight [in, out] as ORT's own 4-bit quantizer stores it, read back through the MatMulNBits kernel."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    rows, columns = weight.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="linear")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, columns])],
        [numpy_helper.from_array(weight, "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    quantizer = MatMulNBitsQuantizer(model, bits=4, block_size=block_size, is_symmetric=True)
    quantizer.process()
    session = ort.InferenceSession(quantizer.model.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": np.eye(rows, dtype=np.float32)})[0]


def test_int8_weights_are_stored_as_uint8_less_128_so_no_cpus_kernel_saturates(tmp_path, export_cache, tiny_checkpoint):
    """ONNX Runtime's uint8 x int8 kernel on x86 without VNNI (AVX2) adds pairs of products in 16 bits and saturates:
    with per-channel int8 weights a tiny ELECTRA's export parity fell to 0.965 (the baseline's 0.9999) on an AMD EPYC
    without AVX-512, and the distilled tucker and lowrank SST-2 bundles to 0.65 and 0.76. So every encoder weight is
    stored as uint8 w + 128 with zero point 128 (int8.store_weights_as_uint8): the same integers once the zero point
    is taken off, so the kernels that sum exactly give the same outputs, and the uint8 x uint8 kernel, which widens
    first, runs on AVX2. lighttoken's own decode (a MatMulInteger of 0/2 codes, no weight zero point) keeps its int8
    decoder. Broken on purpose (the rewrite skipped) the weights are int8 and the first assert fails; on an AVX2
    machine test_tiny_exports.py's ELECTRA parity fails too."""
    checkpoint = tiny_checkpoint("electra")
    out, report, _ = export(tmp_path, export_cache, checkpoint, "electra", "--target", "onnx", "--ratio", "8")
    graph = onnx.load(str(out / "model.onnx")).graph
    stored = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    weighted = [node for node in graph.node if node.op_type == "MatMulInteger" and len(node.input) == 4]
    assert len(weighted) >= 2 * 6  # two layers of Q, K, V, O and the feed-forward pair
    for node in weighted:
        weight, zero_point = stored[node.input[1]], stored[node.input[3]]
        assert weight.dtype == zero_point.dtype == np.uint8 and (zero_point == 128).all(), node.name
        assert weight.min() >= 1 and weight.max() <= 255  # symmetric: w in [-127, 127]
    decode = [node for node in graph.node if node.op_type == "MatMulInteger" and len(node.input) == 3]
    assert decode and all(stored[node.input[1]].dtype == np.int8 for node in decode)
    assert report["parity"]["passed"]


@pytest.mark.parametrize(("inputs", "block_size"), [(96, 32), (80, 32), (384, 128)])
def test_int4_rounding_is_the_grid_ort_stores(inputs, block_size):
    """The PyTorch model is rounded to exactly the weights ORT's quantizer then stores (80: a padded last block),
    so export parity holds the bundle to the model it ships; rounding twice changes nothing."""
    weight = torch.randn(24, inputs, generator=torch.Generator().manual_seed(0))
    rounded = round_to_blocks(weight, block_size)
    stored = _ort_matmulnbits_weight(rounded.T.contiguous().numpy(), block_size)
    assert np.array_equal(stored, rounded.T.numpy())
    assert torch.equal(round_to_blocks(rounded, block_size), rounded)
    assert (rounded != weight).float().mean() > 0.9  # it did round
    blocks = rounded[:, :block_size]
    assert len(torch.unique(blocks[0])) <= 16  # 4 bits: at most 16 values per block


def test_int4_block_fits_the_narrowest_layer():
    assert block_for(128, 384) == 128 and block_for(128, 32) == 32 and block_for(64, 1536) == 64
    assert block_for(128, 24) == 16


@pytest.mark.parametrize(("kind", "preset", "task"), ARCHITECTURES)
def test_int4_encoder_on_every_architecture(tmp_path, export_cache, tiny_checkpoint, kind, preset, task):
    """Every linear layer of every encoder becomes 4-bit; the .ort loads in ONNX Runtime and passes parity
    against the PyTorch model carrying the rounded weights; the encoder stores about 4.5-5 bits per weight."""
    checkpoint = tiny_checkpoint(kind)
    out, report, manifest = export(tmp_path, export_cache, checkpoint, preset, "--embedding", "int8", "--encoder",
                                   "int4")
    assert manifest["encoder"] == {"method": "int4", "block_size": 128}
    from transformers import AutoModel

    encoder = encoder_of(AutoModel.from_pretrained(checkpoint))
    layers = linear_layers(encoder)
    # tables the encoder holds besides its layers, stored fp32 (DeBERTa's relative-position embedding)
    linear = {id(layer.weight) for layer in layers.values()}
    tables = 4 * sum(p.numel() for p in encoder.parameters() if p.dim() == 2 and id(p) not in linear)
    facts = report["encoder"]
    assert facts["layers"] == len(layers) and facts["bits"] == 4
    assert facts["block_size_used"] == block_for(128, min(layer.in_features for layer in layers.values()))
    parity = report["parity"]
    assert parity["passed"] and parity["export_max_abs_diff"] < 1e-4
    ort.InferenceSession(str(out / "model.ort"), providers=["CPUExecutionProvider"])
    contrib_ops = next(line for line in (out / "required_operators.config").read_text().splitlines()
                       if line.startswith("com.microsoft;1;"))  # fmt: skip
    assert "MatMulNBits" in contrib_ops.split(";")[2].split(",")
    weights = sum(layer.weight.numel() for layer in layers.values())
    codes_and_scales = weights * (0.5 + 4 / facts["block_size_used"])
    size = report["size"]
    assert codes_and_scales <= size["parts"]["encoder"] == size["encoder_bytes"] < weights * 0.75 + tables  # int8: 1 B
    assert (size["encoder_fp32_bytes"] - tables) / (size["encoder_bytes"] - tables) > 4  # the layers alone
    if not tables:  # the baseline's quantizer names the table's reader after the tensor, out of the encoder's scope
        assert size["encoder_ratio_vs_int8"] > 1.2
    for breakdown in size["breakdown"].values():  # token table / encoder layers / everything else
        assert min(breakdown.values()) > 0
    assert sum(size["breakdown"]["bundle"].values()) == size["model_bytes"]
    assert size["breakdown"]["bundle"]["encoder"] == size["encoder_bytes"]


def test_int4_graph_stores_every_encoder_weight_as_matmulnbits_and_nothing_else(
    tmp_path, export_cache, tiny_checkpoint
):
    """The operator list: the encoder's weight MatMuls are MatMulNBits (none left for the int8 pass to
    re-quantize), attention's activation products stay MatMul, the compressed table keeps its own nodes."""
    out, report, _ = export(tmp_path, export_cache, tiny_checkpoint("bert"), "bert", "--embedding", "lighttoken",
                            "--ratio", "4", "--encoder", "int4", "--target", "onnx")  # fmt: skip
    graph = onnx.load(str(out / "model.onnx")).graph
    encoder = [n for n in graph.node if n.name.startswith("/model/encoder/")]
    nbits = [n for n in encoder if n.op_type == "MatMulNBits"]
    assert len(nbits) == report["encoder"]["layers"]
    assert not [n for n in encoder if n.op_type in ("MatMulInteger", "DynamicQuantizeLinear")]
    assert all(n.op_type != "MatMulNBits" for n in graph.node if "/word_embeddings/" in n.name)
    assert sum(n.op_type == "MatMul" for n in encoder) == 2 * 2  # QKᵀ and PV in each of 2 layers


@pytest.mark.parametrize(("kind", "preset", "task"), ARCHITECTURES)
def test_int4_as_int8_stores_int4_codes_that_onnx_runtime_folds_into_int8_weights_at_load(
    tmp_path, export_cache, tiny_checkpoint, kind, preset, task
):
    """The .onnx holds int4's packed codes and block scales and no other copy of the linear weights: every integer
    MatMul reads an int8 weight that standard ops decode from them. ONNX Runtime folds the decode when it loads
    the file (its optimised graph has none of the decode's ops left, and fused int8 MatMuls: int8 kernels), and
    the bundle passes parity against the PyTorch model on its grid (a broken decode fails it: next test)."""
    checkpoint = tiny_checkpoint(kind)
    out, report, manifest = export(tmp_path, export_cache, checkpoint, preset, "--embedding", "int8", "--encoder",
                                   "int4-as-int8", "--target", "onnx")  # fmt: skip
    assert manifest["encoder"] == {"method": "int4-as-int8", "block_size": 128}
    assert report["parity"]["passed"]
    from transformers import AutoModel

    layers = linear_layers(encoder_of(AutoModel.from_pretrained(checkpoint)))
    weights = sum(layer.weight.numel() for layer in layers.values())
    codes_and_scales = weights * (0.5 + 2 / report["encoder"]["block_size_used"])  # fp16 block scales
    # beside the codes: biases, layer norms and shape constants, which tiny layers (32 outputs) make weigh more
    # than in a real model (tests/test_encoders_on_real_models.py holds the real size); still smaller than the same
    # encoder's int8 weights
    assert codes_and_scales <= report["size"]["encoder_bytes"] and report["size"]["encoder_ratio_vs_int8"] > 1.05
    graph = onnx.load(str(out / "model.onnx")).graph
    stored = {t.name for t in graph.initializer}
    integer_matmuls = [n for n in graph.node if n.op_type == "MatMulInteger"]
    assert len(integer_matmuls) >= len(layers) and all(n.input[1] not in stored for n in integer_matmuls)
    # every initializer is read (one no node reads, as ReduceMax's axes below opset 18, makes ORT warn at load)
    assert stored <= {name for node in graph.node for name in node.input}
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(str(out / "model.onnx"), options, providers=["CPUExecutionProvider"])
    optimised = onnx.load(str(tmp_path / "optimised.onnx")).graph.node
    assert not [n.name for n in optimised if "/int4_" in n.name or n.op_type in ("Floor", "Round", "MatMulInteger")]
    assert {n.op_type for n in optimised} & {"DynamicQuantizeMatMul", "MatMulIntegerToFloat"}


@pytest.mark.parametrize("size", [1e-6, 3e-5])
def test_fp16_block_scales_of_tiny_weights_keep_a_grid_that_rounds_to_itself(size):
    """Blocks of weights near 1e-6 have subnormal fp16 scales, too coarse to round the same twice: int4-as-int8
    refused such a model as "not on the int4 grid" (62 of 200 blocks moved at 1e-6). The scale is held at fp16's
    smallest normal, whose step rounds each weight to within a step (at 3e-5 to nonzero codes)."""
    weight = torch.randn(200, 16, generator=torch.Generator().manual_seed(0)) * size
    once = round_to_blocks(weight, 16, torch.float16)
    assert torch.equal(round_to_blocks(once, 16, torch.float16), once)
    assert float((once - weight).abs().max()) <= torch.finfo(torch.float16).tiny
    assert bool((once != 0).any()) == (size > 1e-5)


@pytest.mark.parametrize("opset", [12, 14, 18])  # Split's sizes an input from 13, ReduceMax's axes from 18
def test_int4_as_int8_decodes_a_channel_with_an_all_zero_block_at_its_own_step(opset):
    """A channel's int8 step is 8 × its largest block scale / 63; an all-zero block (a pruned input range) must
    store scale 0, not the 1.0 that only stands in for it as a divisor, or that channel's step grows fifty-fold
    and its other blocks keep a few int8 levels. Run through the decode graph as ONNX Runtime folds it."""
    from export.encoder.int4_as_int8 import constants_read_by, decode_nodes, shared_constants

    weight = torch.randn(6, 256, generator=torch.Generator().manual_seed(0)) * 0.05
    weight[0, :128] = 0  # channel 0's first block of inputs
    on_grid = round_to_blocks(weight, 128, torch.float16).T.contiguous().numpy()  # [K, N], MatMul's layout
    initializers, nodes = decode_nodes("w", [(on_grid, "scale", "int8")], 128, opset)
    outputs = [helper.make_tensor_value_info(name, t, None) for name, t in (("int8", TensorProto.INT8),
                                                                            ("scale", TensorProto.FLOAT))]  # fmt: skip
    stored = constants_read_by(nodes, initializers + shared_constants())  # each opset's form reads its own constants
    assert len(stored) < len(initializers) + len(shared_constants())
    graph = helper.make_graph(nodes, "decode", [], outputs, initializer=stored)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    codes, scales = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {})
    decoded = codes.astype(np.float32) * scales
    error = np.abs(decoded - on_grid).max(0) / np.abs(on_grid).max(0)  # per channel, of its largest weight
    assert error.max() < 0.01  # int8 rounding of int4 values: at most half a step of 1/63 (0.008)
    assert scales[0] < 2 * scales[1:].max()  # channel 0's step is of its own weights' size


@pytest.mark.parametrize("kind", ["bert", "bert-classifier", "deberta-v2"])
def test_int4_as_int8_ships_its_decode_as_a_weights_model_in_a_mobile_bundle(
    tmp_path, export_cache, tiny_checkpoint, kind
):
    """For `.ort` the decode cannot be folded at load, and folded at conversion it would store int8 weights: so it
    becomes weights.ort, which reads no input and gives the int8 weights and their scales, and model.ort takes
    them as inputs of the same names (targets/load_time_decode.py). bundle.json names it and hashes it; runtime_py
    runs it once and passes its outputs to every call, and the bundle passes parity and its self-check. The split
    reads only the graph, so three architectures stand for all: an embedder, a classifier (whose head's weights
    are decoded too) and DeBERTa-v2 (whose constant position projections move with the decode). The real model's
    sizes and accuracy: tests/test_encoders_on_real_models.py."""
    from runtime_py import Bundle, BundleError

    out, report, manifest = export(tmp_path, export_cache, tiny_checkpoint(kind), kind.split("-classifier")[0],
                                   "--embedding", "int8", "--encoder", "int4-as-int8")  # fmt: skip
    assert manifest["model"]["weights"] == "weights.ort" and "weights.ort" in manifest["files"]
    assert report["parity"]["passed"] and report["bundle"]["reproducible"]  # both files laid out canonically
    assert report["size"]["model_bytes"] == sum((out / f).stat().st_size for f in ("model.ort", "weights.ort"))
    decode = ort.InferenceSession(str(out / "weights.ort"), providers=["CPUExecutionProvider"])
    assert decode.get_inputs() == []
    decoded = dict(zip([o.name for o in decode.get_outputs()], decode.run(None, {}), strict=True))
    # an int8 weight per linear layer of the encoder, less those DeBERTa-v2 applies to its constant relative
    # position table (the whole chain is constant, so it moves to weights.ort and hands over its float result)
    # within [-63, 63], so ORT's uint8 x int8 kernel on x86 without VNNI cannot saturate; each channel's widest
    # block holds a code -8, which decodes to -63 exactly
    int8_weights = [name for name, value in decoded.items() if value.dtype == np.int8 and value.ndim == 2]
    assert int8_weights and all(np.abs(decoded[name].astype(np.int16)).max() == 63 for name in int8_weights)
    assert len(int8_weights) >= 4 * 2  # tiny models: two layers of Q, K, V, O and the feed-forward pair
    model = ort.InferenceSession(str(out / "model.ort"), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in model.get_inputs()}
    assert inputs == set(decoded) | {i["name"] for i in manifest["model"]["inputs"]}
    check = Bundle.load(out).self_check()
    assert check.passed, check.failures
    (out / "weights.ort").write_bytes(b"not a model")  # named as what failed, not as model.ort
    with pytest.raises(BundleError, match=r"onnxruntime cannot load .*weights\.ort: "):
        Bundle.load(out, verify=False)


@pytest.mark.parametrize("target", ["onnx", "onnx-mobile"])
@pytest.mark.parametrize(("kind", "below"), [("bert-classifier", 0.0), ("bert", 0.9)])
def test_a_broken_int4_as_int8_decode_fails_export_parity(tmp_path, export_cache, tiny_checkpoint, monkeypatch, target,
                                                          kind, below):  # fmt: skip
    """The packed nibbles swapped (each code read from the other half of its column): the tiny classifier's
    logits point the other way (min cosine -0.95 against the 0.96 required), the tiny embedder's outputs move to
    0.67 (its weights drawn wide enough that its encoder matters: tiny_models.EMBEDDER), and --no-strict still
    writes the bundle with its failed parity; in the `.onnx` folded at load and in the `.ort` pair's weights.ort
    alike."""
    from export.encoder import int4_as_int8

    correct = int4_as_int8.packed
    monkeypatch.setattr(int4_as_int8, "packed", lambda codes: (correct(codes) >> 4) | (correct(codes) << 4))
    _, report, _ = export(tmp_path, export_cache, tiny_checkpoint(kind), "bert", "--embedding", "int8",
                          "--encoder", "int4-as-int8", "--target", target, "--no-strict")  # fmt: skip
    assert not report["parity"]["passed"] and report["parity"]["min_cosine"] < below


@pytest.mark.parametrize(
    "flags",
    [["--encoder", "int4"], ["--encoder", "int4-as-int8", "--target", "onnx"], ["--encoder", "int4-as-int8"]],
)
def test_two_int4_exports_give_identical_bytes(tmp_path, tiny_checkpoint, flags):
    (a, b), manifest = _export_twice(tmp_path, tiny_checkpoint("bert"), *flags)
    for name in ["bundle.json", *manifest["files"]]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize(("kind", "preset", "task"), ARCHITECTURES)
def test_factorised_encoders_on_every_architecture(tmp_path, export_cache, tiny_checkpoint, kind, preset, task):
    """ONNX equals the factorised PyTorch model (fp32 export), the .ort loads and passes parity against the int8
    baseline less the lossy margin, and the encoder stores fewer bytes than the same encoder in dense int8 (the
    optimum/ORT baseline's, which every export builds and measures in its own format)."""
    checkpoint = tiny_checkpoint(kind)
    reports = {}
    for method in ("tucker", "lowrank"):
        out, report, manifest = export(tmp_path / method, export_cache, checkpoint, preset, "--embedding", "int8",
                                       "--encoder", method, "--encoder-ratio", "2")  # fmt: skip
        defaults = {"bank": None, "share": "encoder"} if method == "tucker" else {}
        defaults["calibrate"] = True
        assert manifest["encoder"] == report["config"]["encoder"] == {"method": method, "ratio": 2.0, **defaults}
        parity = report["parity"]
        assert parity["passed"] and parity["export_max_abs_diff"] < 1e-4
        ort.InferenceSession(str(out / "model.ort"), providers=["CPUExecutionProvider"])
        assert report["size"]["encoder_ratio_vs_int8"] > 1
        reports[method] = report
    facts = reports["tucker"]["encoder"]
    assert facts["stored_weights"] <= facts["dense_weights"] / 2


def test_lowrank_takes_the_largest_rank_within_the_ratio():
    """Never more weights than 1/ratio (the nearest rank could be above it: 77 for 76.8 at 4x on 384x1536), so
    lowrank is not given more bytes than tucker, and a ratio beyond rank 1 is refused rather than shipped lower."""
    from export.encoder.lowrank import rank_for

    layer = torch.nn.Linear(384, 1536)
    for ratio in (2.0, 4.0, 6.0, 20.0):
        rank = rank_for(layer, ratio)
        assert rank * (384 + 1536) <= 384 * 1536 / ratio < (rank + 1) * (384 + 1536), ratio
    assert rank_for(torch.nn.Linear(384, 384), 300.0) == 0  # rank 1 would be 192x


def multiply_adds_per_token(path) -> int:
    """Multiply-adds a token costs in the encoder's weight MatMuls (int8 or fp32), read off the ONNX graph: K·N
    for a weight [K, N], times the blocks a reshaped input carries ([batch, seq, blocks, K])."""
    model = onnx.load(str(path))
    for graph_input in model.graph.input:  # one text of 8 tokens, so every Reshape's shape is known
        for dim, size in zip(graph_input.type.tensor_type.shape.dim, (1, 8), strict=True):
            dim.dim_value = size
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.input]}  # fmt: skip
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type in ("MatMul", "MatMulInteger") and node.input[1] in weights:
            if not node.name.startswith("/model/encoder/"):
                continue
            k, n = weights[node.input[1]]
            blocks = int(np.prod(shapes[node.input[0]][2:-1]))
            assert blocks > 0, node.name  # every shape known
            total += blocks * k * n
    return total


def test_tucker_costs_fewer_multiply_adds_than_the_dense_encoder(tmp_path, export_cache, tiny_checkpoint):
    """On a layer of all-MiniLM-L6-v2's shapes (D = 384, FFN 1536; random weights): Q, K and V share x·U (one
    MatMul), the cores are folded constants, and the graph's multiply-adds a token follow the paper's count
    (a·D·r + a·b·r² + b·r·D per layer, x·U once for Q, K, V) — below the dense layer's at ratio 4 and 8."""
    checkpoint = tiny_checkpoint("bert-wide")
    dense, _, _ = export(tmp_path / "dense", export_cache, checkpoint, "bert", "--embedding", "int8", "--target",
                         "onnx")
    dense_macs = multiply_adds_per_token(dense / "model.onnx")
    assert dense_macs == 4 * 384 * 384 + 2 * 384 * 1536
    for ratio in (4, 8):
        out, report, _ = export(tmp_path / f"tucker{ratio}", export_cache, checkpoint, "bert", "--embedding", "int8",
                                "--target", "onnx", "--encoder", "tucker", "--encoder-ratio", str(ratio))  # fmt: skip
        (r,), d = report["encoder"]["ranks"], 384
        expected = (d * r + 3 * (r * r + r * d)) + (d * r + r * r + r * d) + 2 * (d * r + 4 * r * r + 4 * r * d)
        assert multiply_adds_per_token(out / "model.onnx") == expected < dense_macs
        graph = onnx.load(str(out / "model.onnx")).graph
        assert not [n for n in graph.node if n.op_type in ("Einsum", "Gather") and "/encoder/" in n.name
                    and n.input[0].endswith("mixing")]  # the cores are not computed at run time  # fmt: skip
    assert multiply_adds_per_token(out / "model.onnx") < 0.5 * dense_macs  # ratio 8


def test_tucker_shares_its_factors_per_layer_when_asked(tmp_path, tiny_checkpoint):
    """Tucker(share="layer"): each transformer layer's blocks get their own U and V (a factor group a layer, two
    here), so at the same ratio the factors hold more of the bytes and the rank is smaller than with one pair for
    the whole encoder; the export still equals the PyTorch model and the bytes stay within 1/ratio."""
    checkpoint = str(tiny_checkpoint("bert"))
    facts = {}
    for share in ("encoder", "layer"):
        result = build("bert", model=checkpoint, embedding=Int8(), target="onnx", progress=False,
                       encoder=Tucker(ratio=2, share=share), out=tmp_path / share)
        assert result.parity["passed"] and result.parity["export_max_abs_diff"] < 1e-4
        assert result.report["config"]["encoder"]["share"] == share
        facts[share] = result.report["encoder"]
    assert facts["encoder"]["factor_groups"] == 1 and facts["layer"]["factor_groups"] == 2
    assert facts["layer"]["ranks"][0] < facts["encoder"]["ranks"][0]
    assert facts["layer"]["stored_weights"] <= facts["layer"]["dense_weights"] / 2
    with pytest.raises(UserInputError, match="tucker share must be one of encoder, layer"):
        Tucker(share="head").check()



@pytest.mark.parametrize("feed_forward", [100, 40])  # not a multiple of the hidden size 48; narrower than it
@pytest.mark.parametrize("share", ["encoder", "layer"])
def test_tucker_refuses_layers_its_blocks_do_not_tile(feed_forward, share):
    """tucker cuts every weight into D×D blocks; a feed-forward width D does not divide (TinyBERT's 312/1200) left
    those layers dense unsaid (1.60x at --encoder-ratio 4), or crashed (an empty group, a division by zero), or
    reported ranks [] with nothing compressed."""
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=40, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=feed_forward))  # fmt: skip
    width, untiled = (48, re.escape("intermediate.dense (48x100)")) if feed_forward == 100 else (40, r"query \(48x48\)")
    with pytest.raises(UserInputError, match=rf"narrowest input width, {width}, which does not tile .*{untiled}"):
        Tucker(ratio=4, share=share, calibrate=False).compress(encoder_of(model), seed=0)

@pytest.mark.parametrize(
    ("method", "kind", "rate_flags", "learning_rate", "attention"),
    [
        ("int4", "bert", [], 1e-4, False),
        ("tucker", "bert", [], 1.5e-3, True),  # an embedder's own rate
        ("tucker", "bert-classifier", [], 1e-3, True),  # a classifier's own rate
        ("tucker", "bert", ["--distill-lr", "2e-3"], 2e-3, True),
        ("tucker", "bert-cross", [], 3e-3, True),  # a pair model's own rate
    ],
)
def test_distillation_trains_the_compressed_encoder_and_the_bundle_ships_what_it_trained(
    tmp_path, export_cache, tiny_checkpoint, method, kind, rate_flags, learning_rate, attention
):
    """Mechanics: --distill trains the compressed encoder (tucker's factors and cores; int4's weights, rounded back
    onto the grid afterwards) with the method's learning rate (or --distill-lr's) and attention loss, and the export
    is held to the trained, shipped form (an fp32 export equal to it, parity passed). A tiny random model's outputs
    are too flat for its held-out loss to say anything (it starts at 2e-5 to 3e-4); what healing recovers is tested
    on the real classifier."""
    text = Path(__file__).resolve().parents[1] / "export" / "data" / "calibration.txt"
    flags = ["--embedding", "int8", "--encoder", method, "--distill", str(text), "--distill-steps", "40", *rate_flags]
    _, report, _ = export(tmp_path, export_cache, tiny_checkpoint(kind), "bert", *flags)
    run = report["distill"]
    assert run["learning_rate"] == learning_rate and run["attention_loss"] == attention  # the method's, or the flag's
    assert run["sentence_loss"] == (attention and kind == "bert")  # tucker matches an embedder's sentence embeddings
    assert run["steps"] == 40 and run["final_loss"] > 0
    assert report["parity"]["passed"] and report["parity"]["export_max_abs_diff"] < 1e-4
    assert report["steps"] == ["compress", "distill"]


def test_distillation_ships_the_weights_its_training_moved(tmp_path, export_cache, tiny_checkpoint):
    """Parity holds the bundle to the model as trained, so a training that changed nothing (no parameters given
    to the optimizer, a learning rate dropped) would pass it: the shipped encoder must differ from the same export
    trained for one step (its first step's rate is the warm-up's; without --distill, tucker's factors are fitted
    to other calibration text, so that export differs anyway)."""
    text = Path(__file__).resolve().parents[1] / "export" / "data" / "calibration.txt"
    flags = ["--embedding", "int8", "--encoder", "tucker", "--target", "onnx", "--distill", str(text)]
    kind = tiny_checkpoint("bert-classifier")
    trained, _, _ = export(tmp_path / "trained", export_cache, kind, "bert", *flags, "--distill-steps", "20")
    untrained, _, _ = export(tmp_path / "untrained", export_cache, kind, "bert", *flags, "--distill-steps", "1")
    weights = [{i.name: numpy_helper.to_array(i) for i in onnx.load(out / "model.onnx").graph.initializer}
               for out in (trained, untrained)]  # fmt: skip
    encoder = [name for name in weights[0] if "encoder.layer" in name or "quantized" in name]
    assert len(encoder) >= 8, sorted(weights[0])  # two layers' factorised Q, K, V, O and feed-forward pair at least
    changed = [name for name in encoder if name not in weights[1] or not np.array_equal(weights[0][name],
                                                                                       weights[1][name])]  # fmt: skip
    assert len(changed) >= len(encoder) // 2, changed  # every trained layer's weights moved


def test_int4_shipped_form_is_back_on_the_grid_after_training(tiny_checkpoint):
    from transformers import AutoModel

    from export.encoder import Int4Encoder

    method = Int4Encoder(block_size=32)
    model = AutoModel.from_pretrained(tiny_checkpoint("bert"))
    method.compress(encoder_of(model), seed=0)
    with torch.no_grad():  # what a training step does: weights move off the grid
        for layer in linear_layers(encoder_of(model)).values():
            layer.weight.add_(torch.randn_like(layer.weight) * 1e-3)
    shipped = method.shipped(model)
    for name, layer in linear_layers(encoder_of(shipped)).items():
        assert torch.equal(round_to_blocks(layer.weight, 32), layer.weight), name
        trained = linear_layers(encoder_of(model))[name].weight
        assert not torch.equal(trained, layer.weight)  # the trained model itself is left as it was


def test_int4_quantizes_the_head_too(tmp_path, export_cache, tiny_checkpoint):
    """The pooler and classifier (Gemm on one vector per text) become MatMul + Add and go 4-bit like the encoder
    rather than staying fp32 (or int8) beside it; the shipped PyTorch head is on the same grid, so parity holds
    (export(...) checks it)."""
    out, _, _ = export(tmp_path, export_cache, tiny_checkpoint("bert-classifier"), "bert", "--embedding", "int8",
                       "--encoder", "int4", "--target", "onnx")  # fmt: skip
    graph = onnx.load(str(out / "model.onnx")).graph
    for head in ("/pooler/", "/classifier/"):
        ops = {n.op_type for n in graph.node if head in n.name}
        assert "MatMulNBits" in ops and not ops & {"Gemm", "MatMulInteger"}, (head, ops)
