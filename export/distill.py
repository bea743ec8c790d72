"""Optional stage: a short distillation of the model to its compressed embedding, on unlabelled text.

A compressed table moves every token a little; the encoder was trained on the exact table. Training the
model (every weight but the compressed table, which stays fixed: the encoder, the position and type embeddings, the
head) to reproduce the original model's hidden states, layer by layer,
and for classifiers its logits, teaches it to read the new table. It needs no labels, so the compression stays
task-agnostic; the text is the user's (`--distill PATH`): a .txt file or a folder of them, one passage per line,
or a GLUE .tsv whose text columns are read and whose labels never are. A pair model (a cross-encoder) reads a
table of pairs row by row, as pairs: the input it will see.

Which text recovers what, measured: docs/distillation.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import DISTILL_DEVICES, DistillConfig
from .datasets import read_text_pairs, read_texts
from .errors import UserInputError
from .probes import model_inputs
from .tasks.feature_extraction import sentence_vectors

WARMUP_STEPS = 10
HELD_OUT = 64  # passages (at most a quarter of them) kept out of training, to measure what the student learned


Passage = str | tuple[str, str]  # one text, or a pair that a pair model reads at once


def training_device(name: str) -> torch.device:
    """The device `DistillConfig.device` names: "auto" is the CUDA GPU when torch sees one, else the CPU."""
    if name not in DISTILL_DEVICES:
        raise UserInputError(f"--distill-device must be one of {', '.join(DISTILL_DEVICES)} (got {name!r})")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--distill-device cuda: this torch sees no CUDA GPU (--distill-device cpu trains here)")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def device_name(device: torch.device) -> str:
    """For the report: "cpu", or "cuda (NVIDIA H200)"."""
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"


def read_passages(path: Path, pairs: bool = False) -> list[Passage]:
    """The passages of `path` worth training on (datasets.read_texts: .txt files, folders of them, tables' text
    columns); headings and short lines teach little, and WikiText marks headings with "=". With `pairs` (a model
    that reads two texts at once), a table of pairs gives its rows as pairs: the model is trained on the input it
    will see, second segment and cross-text attention included, not on each text alone. Each passage once: a line
    twice (STS-B repeats sentences) could otherwise stand among the held-out passages and be trained on."""
    rows = read_text_pairs(path, "distillation text") if pairs else None
    if rows is not None:
        passages: list[Passage] = [row for row in rows if len(" ".join(row).split()) > 8]
    else:
        passages = [p for p in read_texts(path, "distillation text") if len(p.split()) > 8 and not p.startswith("=")]
    passages = list(dict.fromkeys(passages))
    if len(passages) < 4:
        raise UserInputError(f"distillation text {path} has fewer than 4 passages longer than 8 words")
    return passages


def split_passages(passages: list[Passage], seed: int) -> tuple[list[Passage], list[Passage]]:
    """(held out, training) passages, in an order drawn by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    order = [passages[i] for i in torch.randperm(len(passages), generator=generator).tolist()]
    kept = min(HELD_OUT, len(order) // 4)
    return order[:kept], order[kept:]


def encode_passages(
    tokenizer, input_names: list[str], batch: list[Passage], max_tokens: int
) -> dict[str, torch.Tensor]:
    """One padded batch of model inputs; a pair passage is encoded as a pair (both segments, as the model reads
    them)."""
    pairs = isinstance(batch[0], tuple)
    texts, second = ([p[0] for p in batch], [p[1] for p in batch]) if pairs else (batch, None)
    encoded = tokenizer(texts, second, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    return model_inputs(encoded, input_names)  # what the model takes (no token_type_ids for some)


@dataclass(frozen=True)
class DistillResult:
    losses: list[float]  # per training step
    device: str  # where it trained (device_name)
    held_out_before: float  # the loss on HELD_OUT passages never trained on, dropout off
    held_out_after: float
    held_out_passages: int  # how many of the passages those are (at most a quarter)
    # the share of those passages whose top class is the teacher's (top1_agreement); None without class logits
    held_out_agreement_before: float | None = None
    held_out_agreement_after: float | None = None
    # how many labels are the top class of some held-out passage (answered_labels): the teacher's, the student's
    held_out_labels_original: int | None = None
    held_out_labels_before: int | None = None
    held_out_labels_after: int | None = None


def distill(
    student: torch.nn.Module,
    teacher: torch.nn.Module,
    tokenizer,
    input_names: list[str],
    passages: list[Passage],
    config: DistillConfig,
    seed: int = 0,
    on_step: Callable[[int, float], None] = lambda step, loss: None,
    pooling: str | None = None,
    shipped: Callable[[torch.nn.Module], torch.nn.Module] = lambda model: model,
) -> DistillResult:
    """Train `student` (an HF model carrying the compressed embedding) towards `teacher`; `seed` draws the
    held-out passages, the passage order and dropout. `config.learning_rate`, `config.attention` and
    `config.sentence` must be set (the distill stage fills in the encoder method's). `pooling` ("mean" or "cls"):
    the sentence embedding an embedder outputs, for the sentence term; None for models with logits. `shipped`: the
    student as it will be exported (EncoderMethod.shipped: int4 rounds its trained weights back onto the grid), which
    the held-out loss is measured on."""
    if config.learning_rate is None or config.attention is None or config.sentence is None:
        raise ValueError("distill() needs a learning rate and the loss terms chosen (stages.distill_encoder does it)")
    if config.steps < 1:
        raise ValueError(f"distill() needs at least one step (got {config.steps})")
    terms = _Terms(config.attention, pooling if config.sentence else None)
    held_out, train = split_passages(passages, seed)
    device = training_device(config.device)

    def batch_inputs(batch: list[Passage]) -> dict[str, torch.Tensor]:
        encoded = encode_passages(tokenizer, input_names, batch, config.max_tokens)
        return {name: tensor.to(device) for name, tensor in encoded.items()}

    with on_device(device, student, teacher), seeded(device, seed):
        before = _held_out(shipped(student), teacher, batch_inputs(held_out), terms)
        parameters = [p for p in student.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.0)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config.steps))
        student.train()  # dropout on, as in training
        losses = []
        for step in range(config.steps):
            start = step * config.batch % len(train)
            inputs = batch_inputs((train + train)[start : start + config.batch])
            with torch.no_grad():
                target = _outputs(teacher, inputs, terms.attention)
            loss = _loss(_outputs(student, inputs, terms.attention), target, inputs["attention_mask"], terms)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            on_step(step, losses[-1])
        student.eval()  # as every later stage reads it
        after = _held_out(shipped(student), teacher, batch_inputs(held_out), terms)
    return DistillResult(losses, device_name(device), before.loss, after.loss, len(held_out), before.agreement,
                         after.agreement, before.original_labels, before.labels, after.labels)  # fmt: skip


@contextmanager
def on_device(device: torch.device, *models: torch.nn.Module) -> Iterator[None]:
    """`models` moved to `device` for the block and back to the CPU after it, whatever happens: the teacher is the
    loaded model that later stages read on the CPU. Moving float32 tensors there and back changes no bit."""
    if device.type == "cpu":
        yield
        return
    try:
        for model in models:
            model.to(device)
        yield
    finally:
        for model in models:
            model.to("cpu")
        torch.cuda.empty_cache()


@contextmanager
def seeded(device: torch.device, seed: int) -> Iterator[None]:
    """Dropout draws from torch's global generator (the GPU's own on CUDA): seed it in a fork, leaving the caller's
    state alone, or the same command gives a different encoder, and a different bundle, on every run. On CUDA the
    kernels are held to their deterministic versions too (cuBLAS needs its workspace setting before first use)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


@dataclass(frozen=True)
class _Terms:
    """The loss terms beside every layer's hidden states (and a classifier's logits)."""

    attention: bool  # the last layer's attention distributions
    pooling: str | None  # an embedder's sentence embeddings and their similarities, pooled this way; None: off


def _outputs(model: torch.nn.Module, inputs: dict[str, torch.Tensor], attention: bool):
    # Asking for attentions makes transformers' SDPA layers fall back to the eager path that computes them.
    return model(**inputs, output_hidden_states=True, output_attentions=attention)


@dataclass(frozen=True)
class _HeldOut:
    loss: float
    agreement: float | None
    labels: int | None  # the student's answered_labels
    original_labels: int | None  # the teacher's


def _held_out(
    student: torch.nn.Module, teacher: torch.nn.Module, inputs: dict[str, torch.Tensor], terms: _Terms
) -> _HeldOut:
    student.eval()
    with torch.no_grad():
        student_out = _outputs(student, inputs, terms.attention)
        teacher_out = _outputs(teacher, inputs, terms.attention)
        loss = float(_loss(student_out, teacher_out, inputs["attention_mask"], terms))
    return _HeldOut(loss, top1_agreement(student_out, teacher_out), answered_labels(student_out),
                    answered_labels(teacher_out))  # fmt: skip


def top1_agreement(student_out, teacher_out) -> float | None:
    """The share of passages whose highest logit is the teacher's: a classifier's answer, which the loss can leave
    behind while it falls (the logits are one term beside every layer's hidden states; docs/encoder.md has a short
    run that fell to one label for every text). None for a model without class logits (an embedder, or a
    regression head's one output)."""
    answers = _answers(student_out)
    return None if answers is None else float((answers == _answers(teacher_out)).float().mean())


def answered_labels(out) -> int | None:
    """How many labels are the highest logit of some passage: 1 for a classifier that gives one answer to every
    text (a 40-step tucker run did, its held-out loss falling: docs/distillation.md). None without class logits."""
    answers = _answers(out)
    return None if answers is None else int(answers.unique().numel())


def _answers(out) -> torch.Tensor | None:
    """Each passage's top class; None for a model without class logits (an embedder, a regression head's one
    output)."""
    logits = getattr(out, "logits", None)
    return None if logits is None or logits.shape[-1] < 2 else logits.argmax(-1)


def _lr_factor(step: int, steps: int) -> float:
    """The warm-up and the decay multiplied, not one after the other (so a run peaks under the rate it was given:
    0.97 of it at 300 steps); the measured healing curves (docs/encoder.md) were made with this schedule."""
    return min(1.0, (step + 1) / WARMUP_STEPS) * max(0.0, 1.0 - step / steps)


def _loss(student_out, teacher_out, mask: torch.Tensor, terms: _Terms) -> torch.Tensor:
    """Mean squared error of every layer's hidden states (padding left out), plus the logits for classifiers, plus
    (`terms.attention`) the last layer's attention distributions, plus (`terms.pooling`) an embedder's sentence
    embeddings."""
    weights = mask.unsqueeze(-1).float()
    loss = sum(
        (((s - t) ** 2) * weights).sum() / weights.sum() / s.shape[-1]
        for s, t in zip(student_out.hidden_states[1:], teacher_out.hidden_states[1:], strict=True)
    )
    if getattr(student_out, "logits", None) is not None:
        loss = loss + ((student_out.logits - teacher_out.logits) ** 2).mean()
    if terms.attention:
        loss = loss + _attention_divergence(student_out.attentions[-1], teacher_out.attentions[-1], mask)
    if terms.pooling is not None:
        loss = loss + _sentence_loss(student_out.hidden_states[-1], teacher_out.hidden_states[-1], mask, terms.pooling)
    return loss


def _sentence_loss(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """1 − cosine of each passage's sentence embedding to the teacher's, plus the squared error of the batch's
    cosine similarities (the scores an embedder is used for; the paper's similarity loss).

    The hidden-state error is dominated by a few large-magnitude dimensions of the token states, while an
    embedder's output is a normalised mean (or [CLS]) whose direction is what counts; this term measures that.
    """
    s, t = sentence_vectors(student, mask, pooling), sentence_vectors(teacher, mask, pooling)
    return (1 - (s * t).sum(-1)).mean() + ((s @ s.T - t @ t.T) ** 2).mean()


def _attention_divergence(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) of each head's attention over the keys, averaged over heads and real query tokens.

    The paper matches attention scores; transformers exposes the softmaxed distributions, and a divergence between
    distributions (MiniLM's self-attention distillation) is the loss that fits those. Padded keys carry ~0 weight in
    both, so they add nothing; padded queries are left out.
    """
    eps = 1e-9  # a fully masked key has probability 0 in both; keep log() finite
    per_query = (teacher * ((teacher + eps).log() - (student + eps).log())).sum(-1)  # [batch, heads, queries]
    weights = mask.unsqueeze(1).float().expand_as(per_query)
    return (per_query * weights).sum() / weights.sum()
