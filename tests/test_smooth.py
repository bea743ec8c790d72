"""SmoothQuant's rescaling (export/smooth.py) on a tiny classifier given BERT's outlier channels: it must change
the model where int8 gains, and leave its fp32 function exactly as it was (export parity cannot see a change of
function: it holds the bundle to the smoothed model itself)."""

from __future__ import annotations

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from export import smooth as smoothing
from export.smooth import SmoothedLinear, _capture_linear_inputs, _int8_error, calibration_texts, smooth

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
OUTLIER_CHANNELS = [0, 5, 9]  # a few LayerNorm channels far larger than the rest, as trained BERT encoders have


def with_outliers(checkpoint):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight[OUTLIER_CHANNELS] *= 40.0
    return model


def test_smoothing_changes_the_int8_groups_and_keeps_the_fp32_function(tiny_checkpoint):
    checkpoint = tiny_checkpoint("bert-classifier")
    model, tokenizer = with_outliers(checkpoint), AutoTokenizer.from_pretrained(checkpoint)
    encoded = tokenizer(calibration_texts()[:16], padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model(**encoded).logits
    groups = _capture_linear_inputs(model, tokenizer, INPUTS, 128, pairs=False)
    errors = {names: _int8_error([dict(model.named_modules())[n].weight for n in names], batches,
                                 torch.ones(batches[0].shape[-1])) for names, batches in groups}  # fmt: skip

    changed = smooth(model, tokenizer, INPUTS, 128)

    smoothed = {name: m for name, m in model.named_modules() if isinstance(m, SmoothedLinear)}
    assert changed == len(smoothed) > 0  # a no-op would ship the outliers to the int8 activations
    with torch.no_grad():
        after = model(**encoded).logits
    # powers of two: x / s and W·s are exact in fp32, so the products and their sums are the same numbers
    torch.testing.assert_close(after, before, rtol=0, atol=1e-6)
    for names, batches in groups:
        if names[0] not in smoothed:
            continue
        linears = [smoothed[n] for n in names]
        assert all(lin.inverse_scale is linears[0].inverse_scale for lin in linears)  # one Mul a group (Q, K, V)
        original = [lin.weight * lin.inverse_scale[None, :] for lin in linears]  # W·s / s
        assert _int8_error(original, batches, linears[0].inverse_scale) < errors[names]


class _RecordingTokenTypes(torch.nn.Module):
    """The model, recording the token types of every batch it is given."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, input_ids, attention_mask, token_type_ids):
        self.seen.append(token_type_ids)
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def test_a_pair_model_is_calibrated_on_pairs(tiny_checkpoint, monkeypatch):
    """A cross-encoder reads two texts at once: its scales are chosen on the calibration sentences two by two (the
    second segment, token type 1, included), as the compress stage fits encoders, not on single texts; an odd last
    sentence is left out (it made a batch of 4 first texts and 3 second ones)."""
    checkpoint = tiny_checkpoint("bert-cross")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    for pairs in (False, True):
        model = _RecordingTokenTypes(with_outliers(checkpoint))
        smooth(model, tokenizer, INPUTS, 128, pairs=pairs)
        assert any(bool((types == 1).any()) for types in model.seen) == pairs
        assert sum(len(types) for types in model.seen) == len(calibration_texts()) // (2 if pairs else 1)
    odd = calibration_texts()[:39]
    monkeypatch.setattr(smoothing, "calibration_texts", lambda: odd)
    model = _RecordingTokenTypes(with_outliers(checkpoint))
    smooth(model, tokenizer, INPUTS, 128, pairs=True)
    assert sum(len(types) for types in model.seen) == 19


def test_the_smooth_stage_calibrates_a_pair_model_on_pairs(tiny_checkpoint, tmp_path, monkeypatch):
    """The stage passes the task's reading to smooth(): pairs for the cross-encoder, single texts for the embedder."""
    from export import Int8, build, stages

    asked = []

    def recorded(*args, **kwargs):
        asked.append(args[4] if len(args) > 4 else kwargs.get("pairs", False))
        return smooth(*args, **kwargs)

    monkeypatch.setattr(stages, "smooth", recorded)
    for kind in ("bert-cross", "bert"):
        build("bert", model=str(tiny_checkpoint(kind)), embedding=Int8(), target="onnx", progress=False,
              out=tmp_path / kind)  # fmt: skip
    assert asked == [True, False]
