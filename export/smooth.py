"""SmoothQuant-style rescaling before dynamic int8 quantization (Xiao et al., 2023).

ORT's dynamic quantization quantizes each MatMul's activations per tensor (uint8). After a LayerNorm, a few
channels of a BERT-family encoder are far larger than the rest, so a single per-tensor scale leaves little
resolution for the others, which costs more than int8 weights do (docs/smoothing.md). Dividing each input channel by
s_j = max|X_j|^α / max|W_j|^(1-α) and multiplying the weight rows by s_j is exact in fp32 and moves the outliers
into the weights, which are quantized per channel.

These encoders are post-LN: a LayerNorm's output also feeds the residual connection, so s cannot be folded into
the LayerNorm's γ/β. Each group of Linears that read the same tensor (Q/K/V share one) gets one explicit Mul by
1/s; ORT's common-subexpression pass keeps one Mul per group.

One global α was not robust (docs/smoothing.md), so each group picks its own s among "no smoothing" and α ∈ ALPHAS,
by the error of its simulated int8 outputs (per-channel int8 weights, per-tensor uint8 activations, as ORT computes
them) on the calibration text: never worse than not smoothing that group.

Every s is rounded to a power of two. The calibration activations come from fp32 matrix products whose last bits
depend on the CPU's code path (MKL and oneDNN pick kernels by instruction set), and a scale computed from them
carried those bits into every smoothed weight, so the same export gave a different model.ort on another CPU. A
power of two moves only when s crosses a rounding boundary, and x/s and W·s are then exact in fp32
(docs/smoothing.md).
"""

from __future__ import annotations

from importlib import resources

import torch
import torch.nn.functional as F
from torch import nn

from .probes import model_inputs

# Small batches: apps run one or a few texts, and per-tensor activation ranges grow with the batch.
CALIBRATION_BATCH = 8


class SmoothedLinear(nn.Module):
    """y = (x / s) @ (W·s)ᵀ + b: the same function, with activations that quantize better."""

    def __init__(self, linear: nn.Linear, inverse_scale: torch.Tensor) -> None:
        super().__init__()
        scale = 1.0 / inverse_scale
        self.weight = nn.Parameter(linear.weight.detach() * scale[None, :], requires_grad=False)
        self.bias = linear.bias
        self.register_buffer("inverse_scale", inverse_scale)  # the same tensor object for a whole group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x * self.inverse_scale, self.weight, self.bias)


ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def calibration_texts() -> list[str]:
    text = resources.files("export").joinpath("data/calibration.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def as_pairs(texts: list[str]) -> list[tuple[str, str]]:
    """Single texts two by two, as a pair model reads them (an odd last one left out)."""
    return list(zip(texts[0::2], texts[1::2], strict=False))


def smooth(module: nn.Module, tokenizer, input_names: list[str], max_length: int, pairs: bool = False) -> int:
    """Rescale the Linears where it lowers the simulated int8 error; returns how many were changed. `pairs`: the
    model reads two texts at once, so the calibration sentences are fed two by two, as the pairs it will see."""
    modules = dict(module.named_modules())
    changed = 0
    for names, batches in _capture_linear_inputs(module, tokenizer, input_names, max_length, pairs):
        linears = [modules[name] for name in names]
        inverse_scale = _best_inverse_scale([lin.weight.detach() for lin in linears], batches)
        if inverse_scale is None:
            continue
        for name, linear in zip(names, linears, strict=True):
            parent, _, attr = name.rpartition(".")
            setattr(modules[parent], attr, SmoothedLinear(linear, inverse_scale))
        changed += len(names)
    return changed


def _best_inverse_scale(weights: list[torch.Tensor], batches: list[torch.Tensor]) -> torch.Tensor | None:
    channel_max = torch.stack([b.abs().reshape(-1, b.shape[-1]).amax(dim=0) for b in batches]).amax(dim=0)
    weight_max = torch.stack([w.abs().amax(dim=0) for w in weights]).amax(dim=0)
    best, best_error = None, _int8_error(weights, batches, torch.ones_like(channel_max))
    for alpha in ALPHAS:
        scale = _power_of_two(channel_max.clamp(min=1e-5) ** alpha / weight_max.clamp(min=1e-5) ** (1 - alpha))
        error = _int8_error(weights, batches, 1.0 / scale)
        if error < best_error:
            best, best_error = 1.0 / scale, error
    return best


def _power_of_two(scale: torch.Tensor) -> torch.Tensor:
    """The nearest power of two (in log scale) to each positive value, computed exactly (frexp, ldexp)."""
    mantissa, exponent = torch.frexp(scale.clamp(min=1e-5))  # scale = mantissa · 2^exponent, mantissa in [0.5, 1)
    exponent = exponent - (mantissa < 0.5**0.5).int()
    return torch.ldexp(torch.ones_like(scale), exponent)


def _int8_error(weights: list[torch.Tensor], batches: list[torch.Tensor], inverse_scale: torch.Tensor) -> float:
    """Relative squared error of the group's outputs when x/s and W·s are quantized as ORT does."""
    error = total = 0.0
    for weight in weights:
        quantized_weight = _per_channel_int8(weight / inverse_scale[None, :])
        for x in batches:
            exact = x @ weight.T
            approx = _per_tensor_uint8(x * inverse_scale) @ quantized_weight.T
            error += float(((approx - exact) ** 2).sum())
            total += float((exact**2).sum())
    return error / max(total, 1e-12)


def _per_channel_int8(weight: torch.Tensor) -> torch.Tensor:
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
    return torch.round(weight / scale).clamp(-127, 127) * scale


def _per_tensor_uint8(x: torch.Tensor) -> torch.Tensor:
    """ORT's DynamicQuantizeLinear: asymmetric uint8 over the whole tensor, range always including 0."""
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero_point = round(-low / scale)
    return (torch.clamp(torch.round(x / scale) + zero_point, 0, 255) - zero_point) * scale


def _capture_linear_inputs(module: nn.Module, tokenizer, input_names: list[str], max_length: int, pairs: bool):
    """Run the calibration text; group the Linears that read a LayerNorm output by that tensor, with its values."""
    names = {module: name for name, module in module.named_modules()}
    # The LayerNorm outputs of the current batch, kept alive: matching is by storage address, and a freed
    # tensor's address could otherwise be reused by an unrelated tensor of the same shape.
    layer_norm_outputs: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
    groups: dict[tuple[str, ...], list[torch.Tensor]] = {}
    seen: dict[tuple[int, tuple[int, ...]], list[str]] = {}  # one batch: LayerNorm output → the Linears reading it

    def after_layer_norm(_module, _args, output):
        layer_norm_outputs[(output.data_ptr(), tuple(output.shape))] = output

    def before_linear(module, args):
        key = (args[0].data_ptr(), tuple(args[0].shape))
        if key not in layer_norm_outputs:
            return
        seen.setdefault(key, []).append(names[module])

    hooks = [m.register_forward_hook(after_layer_norm) for m in module.modules() if isinstance(m, nn.LayerNorm)]
    hooks += [m.register_forward_pre_hook(before_linear) for m in module.modules() if isinstance(m, nn.Linear)]
    passages = as_pairs(calibration_texts()) if pairs else calibration_texts()
    try:
        with torch.no_grad():
            for start in range(0, len(passages), CALIBRATION_BATCH):
                batch = passages[start : start + CALIBRATION_BATCH]
                first, second = ([p[0] for p in batch], [p[1] for p in batch]) if pairs else (batch, None)
                encoded = tokenizer(
                    first, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
                )
                seen.clear()
                layer_norm_outputs.clear()
                module(*model_inputs(encoded, input_names).values())
                for key, linear_names in seen.items():
                    groups.setdefault(tuple(linear_names), []).append(layer_norm_outputs[key].detach().clone())
    finally:
        for hook in hooks:
            hook.remove()
    return list(groups.items())
