"""Calibrated factorisations (--encoder-calibrate; Tucker(calibrate=True), LowRank(calibrate=True)): fitted to each
layer's output error on calibration text rather than to its weights. Broken (the whitening left out of lowrank's
down factor, or tucker's refinement skipped), the output-error assertions below fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from export import Int8, LowRank, Tucker, UserInputError, build
from export.distill import encode_passages
from export.encoder import encoder_of, linear_layers
from export.encoder.calibration import input_moments, weighted_error
from export.encoder.factorized import LowRankLinear
from export.smooth import calibration_texts
from export.stages import calibration_passages


def _moments(checkpoint: Path):
    model = AutoModel.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    texts = calibration_texts()
    batches = [encode_passages(tokenizer, ["input_ids", "attention_mask"], texts[i : i + 8], 64)
               for i in range(0, len(texts), 8)]  # fmt: skip
    return model, input_moments(model, batches)


def test_whitened_lowrank_has_a_smaller_output_error_than_the_plain_svd(tiny_checkpoint):
    """The whitened SVD minimises E‖x·(W − Ŵ)ᵀ‖² over rank-r Ŵ, so on the text it was fitted to it is below the
    plain SVD's error in every layer (and Σ is a symmetric positive definite second moment)."""
    model, moments = _moments(tiny_checkpoint("bert"))
    for name, layer in linear_layers(encoder_of(model)).items():
        sigma = moments[name]
        assert torch.allclose(sigma, sigma.T) and torch.linalg.eigvalsh(sigma).min() > 0
        weight_t = layer.weight.detach().double().T
        plain = weighted_error(weight_t, LowRankLinear(layer, 4).product().detach().double().T, sigma)
        whitened = weighted_error(weight_t, LowRankLinear(layer, 4, sigma).product().detach().double().T, sigma)
        assert whitened < plain - 1e-3, name


def test_calibrated_factorisations_export_with_their_output_error_in_the_report(tmp_path, tiny_checkpoint):
    """tucker's alternating least squares lowers the output error of its HOOI start; both calibrated methods export
    with parity and say what they were calibrated on; tucker refuses to calibrate a core bank (form IV), which its
    refinement does not fit."""
    checkpoint = str(tiny_checkpoint("bert-classifier"))
    for method in (Tucker(ratio=2, calibrate=True), LowRank(ratio=2, calibrate=True)):
        result = build("bert", model=checkpoint, embedding=Int8(), target="onnx", progress=False, encoder=method,
                       out=tmp_path / method.name)  # fmt: skip
        assert result.parity["passed"] and result.parity["export_max_abs_diff"] < 1e-4
        facts = result.report["encoder"]
        assert facts["calibration"] == f"{len(calibration_texts())} built-in sentences"
        assert result.report["config"]["encoder"]["calibrate"] is True
        # deterministic fits of a seeded random model (measured on an AMD EPYC: tucker 0.3532 → 0.2087, lowrank
        # 0.1722); 0.005 leaves room for another CPU's float sums, far under what a fit to the weights alone or to
        # another layer's inputs changes
        if method.name == "tucker":
            assert facts["output_error"] == pytest.approx({"hooi": 0.3532, "refined": 0.2087}, abs=0.005)
            assert facts["output_error"]["refined"] < 0.9 * facts["output_error"]["hooi"]
        else:
            assert facts["output_error"] == pytest.approx(0.1722, abs=0.005)
    with pytest.raises(UserInputError, match=r"\(form IV\) is fitted to the weights alone: leave calibrate off"):
        Tucker(bank=4).check()  # calibrate is on by default
    Tucker(bank=4, calibrate=False).check()


def test_a_pair_model_is_calibrated_on_pairs_and_never_on_held_out_passages():
    """Single texts reach a pair model two by two (its second segment is calibrated too); a --distill text gives its
    training passages, none of those distillation holds out to score itself."""
    texts = [f"passage number {i} with more than eight words in it" for i in range(40)]
    assert calibration_passages(texts, 0, pairs=True)[0] == tuple(calibration_passages(texts, 0, pairs=False)[:2])
    from export.distill import split_passages

    held_out, _ = split_passages(texts, 0)
    assert not set(held_out) & set(calibration_passages(texts, 0, pairs=False))
    assert len(calibration_passages(None, 0, pairs=False)) == len(calibration_texts())
