"""What the distillation stage reads as unlabelled text: text files, folders of them, GLUE TSVs without labels."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from export.config import DistillConfig
from export.distill import (
    DistillResult,
    _attention_divergence,
    _sentence_loss,
    distill,
    read_passages,
    split_passages,
    top1_agreement,
)
from export.errors import UserInputError

LONG = "the film is a {} story about people and places that go on for a long while"


def test_glue_tsv_gives_its_sentences_and_never_its_labels(tmp_path):
    sst2 = tmp_path / "train.tsv"
    sst2.write_text("sentence\tlabel\n" + "".join(f"{LONG.format(i)}\t{i % 2}\n" for i in range(6)))
    assert read_passages(sst2) == [LONG.format(i) for i in range(6)]


def test_sentence_pairs_give_both_sides(tmp_path):
    stsb = tmp_path / "train.tsv"
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    rows = [f"{i}\tg\tf\t2012\t{i}\ts\ts\t{LONG.format(f'a{i}')}\t{LONG.format(f'b{i}')}\t3.2\n" for i in range(3)]
    stsb.write_text(header + "".join(rows))
    passages = read_passages(stsb)
    assert sorted(passages) == sorted([LONG.format(f"{side}{i}") for side in "ab" for i in range(3)])
    assert not any("3.2" in p for p in passages)


def test_a_pair_model_reads_a_pair_table_as_pairs(tmp_path):
    """For a model that reads two texts at once, STS-B's rows stay pairs (and a single-text table stays texts)."""
    stsb = tmp_path / "train.tsv"
    stsb.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{LONG.format(f'a{i}')}\tshort {i}\t3.2\n"
                                                          for i in range(5)))  # fmt: skip
    assert read_passages(stsb, pairs=True) == [(LONG.format(f"a{i}"), f"short {i}") for i in range(5)]
    sst2 = tmp_path / "sst2.tsv"
    sst2.write_text("sentence\tlabel\n" + "".join(f"{LONG.format(i)}\t1\n" for i in range(5)))
    assert read_passages(sst2, pairs=True) == [LONG.format(i) for i in range(5)]


def test_distilling_on_pairs_trains_the_second_segment(tiny_checkpoint):
    """The token-type row of the second text gets gradient only from pairs: trained on pairs it moves, trained on
    the same texts one at a time it stays where it was."""
    checkpoint = tiny_checkpoint("bert-classifier")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    settings = DistillConfig(steps=4, batch=4, max_tokens=32, learning_rate=1e-3, attention=False, sentence=False)
    pairs = [(LONG.format(f"a{i}"), LONG.format(f"b{i}")) for i in range(24)]

    def second_segment_row_after(passages) -> torch.Tensor:
        student = AutoModelForSequenceClassification.from_pretrained(checkpoint)
        teacher = copy.deepcopy(student).eval()
        with torch.no_grad():  # something to heal: the encoder's first layer moved a little
            query = student.bert.encoder.layer[0].attention.self.query.weight
            query.add_(0.1 * torch.randn(query.shape, generator=torch.Generator().manual_seed(0)))
        distill(student, teacher, tokenizer, names, passages, settings)
        return student.bert.embeddings.token_type_embeddings.weight[1].detach()

    original = AutoModelForSequenceClassification.from_pretrained(checkpoint).bert.embeddings.token_type_embeddings
    assert not torch.equal(second_segment_row_after(pairs), original.weight[1])
    assert torch.equal(second_segment_row_after([text for pair in pairs for text in pair]), original.weight[1])


def test_a_passage_given_twice_is_read_once_so_none_is_both_held_out_and_trained_on(tmp_path):
    """STS-B's train.tsv repeats sentences (5,272 passages, 5,025 distinct): read by position, a repeated one could
    land on both sides of the split, and the held-out loss was partly measured on trained passages."""
    text = tmp_path / "repeats.txt"
    text.write_text("".join(f"{LONG.format(i % 20)}\n" for i in range(80)), encoding="utf-8")  # each line 4 times
    passages = read_passages(text)
    assert passages == [LONG.format(i) for i in range(20)]
    held_out, train = split_passages(passages, seed=0)
    assert len(held_out) == 5 and not set(held_out) & set(train)


def test_a_folder_gives_its_txt_files_and_a_glue_folder_is_refused(tmp_path):
    """A folder's .txt files are read (passages of 8 words or more). A task folder holds dev.tsv, the evaluation set,
    and .txt files that are its licence and readme: neither is training text, so it is refused (the message names
    its train.tsv)."""
    (tmp_path / "notes.txt").write_text("\n".join(LONG.format(i) for i in range(5)) + "\n= Heading =\nshort line\n")
    assert read_passages(tmp_path) == [LONG.format(i) for i in range(5)]
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\n" + f"{LONG.format('dev')}\t1\n" * 8)
    with pytest.raises(UserInputError, match="is a GLUE task folder"):
        read_passages(tmp_path)


def distil_tiny_classifier(
    checkpoint: Path, seed: int, passages: list[str], before: int = 0, *, device: str = "cpu",
    dropout: float = 0.3, learning_rate: float = 1e-4, attention: bool = False,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], DistillResult]:
    """(student state, teacher state, result) after 6 steps on `device`; the "compressed" table is the original
    one moved a little, the teacher the model as loaded, and `before` seeds the global generator first (whatever
    ran before)."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    student = AutoModelForSequenceClassification.from_pretrained(
        checkpoint, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout
    )
    teacher = copy.deepcopy(student).eval()
    embedding = student.get_input_embeddings().weight
    with torch.no_grad():  # the "compressed" table: the original one, moved a little
        embedding.add_(0.05 * torch.randn(embedding.shape, generator=torch.Generator().manual_seed(0)))
    embedding.requires_grad_(False)
    torch.manual_seed(before)  # the global generator as whatever ran before left it
    config = DistillConfig(steps=6, batch=4, max_tokens=16, learning_rate=learning_rate, attention=attention,
                           sentence=False, device=device)  # fmt: skip
    result = distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], passages, config, seed)
    return student.state_dict(), teacher.state_dict(), result


def test_distillation_is_deterministic_for_a_seed(tiny_checkpoint):
    """Dropout is on while distilling: its masks must come from the seed, not from whatever ran before."""
    passages = [LONG.format(i) for i in range(24)]
    checkpoint = tiny_checkpoint("bert-classifier")
    runs = [(0, 10), (0, 11), (1, 10)]  # (seed, global state before)
    first, again, other = (distil_tiny_classifier(checkpoint, seed, passages, before)[0] for seed, before in runs)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


PASSAGES = [LONG.format(i) for i in range(48)]


def _scrambled_and_trained(checkpoint: Path, model_class, scramble, config: DistillConfig | None, pooling=None):
    """The tiny model with `scramble` applied to a copy of it (the student), then (config given) distilled back
    towards the original (the teacher) on PASSAGES → (student, teacher), both in eval mode."""
    student = model_class.from_pretrained(checkpoint)
    teacher = copy.deepcopy(student).eval()
    with torch.no_grad():
        scramble(student)
    if config is not None:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], PASSAGES, config, pooling=pooling)
    return student.eval(), teacher


def _heal_settings(steps: int, attention: bool, sentence: bool) -> DistillConfig | None:
    return DistillConfig(steps=steps, batch=8, max_tokens=16, learning_rate=1e-3, attention=attention,
                         sentence=sentence) if steps else None  # fmt: skip


def test_the_attention_loss_pulls_a_scrambled_attention_back(tiny_checkpoint):
    """The last layer's query projection scrambled: only the attention term sees how far its distributions moved,
    and training with it must bring them back. Without the term (`attention=False`), a run that never reads the
    attentions leaves the divergence higher: the term, not the hidden-state loss alone, does the work."""
    checkpoint = tiny_checkpoint("bert-classifier")
    inputs = AutoTokenizer.from_pretrained(checkpoint)(PASSAGES[:8], padding=True, return_tensors="pt")

    def scramble(model) -> None:
        query = model.bert.encoder.layer[-1].attention.self.query.weight
        query.copy_(query[torch.randperm(query.shape[0], generator=torch.Generator().manual_seed(0))] * 30)

    def divergence_after(attention: bool, steps: int) -> float:
        models = _scrambled_and_trained(checkpoint, AutoModelForSequenceClassification, scramble,
                                        _heal_settings(steps, attention, sentence=False))  # fmt: skip
        with torch.no_grad():
            outputs = [m(**inputs, output_attentions=True).attentions[-1] for m in models]
        return float(_attention_divergence(*outputs, inputs["attention_mask"]))

    scrambled = divergence_after(attention=True, steps=0)
    assert scrambled > 0.01  # the scrambled layer really attends elsewhere
    with_term, without_term = divergence_after(True, 40), divergence_after(False, 40)
    assert with_term < 0.5 * scrambled
    assert with_term < without_term


def test_the_attention_divergence_is_zero_for_equal_distributions_and_ignores_padded_queries():
    attention = torch.softmax(torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0)), dim=-1)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert float(_attention_divergence(attention, attention, mask)) < 1e-6
    moved = attention.clone()
    moved[1, :, 3:] = torch.softmax(torch.randn(3, 2, 5), dim=-1)  # only padded queries differ
    assert float(_attention_divergence(moved, attention, mask)) < 1e-6


def test_the_sentence_loss_pulls_an_embedders_sentence_embeddings_back(tiny_checkpoint):
    """An embedder's last LayerNorm scale scrambled: its mean-pooled sentence embeddings point elsewhere. With the
    sentence term, 80 steps bring their cosine to the teacher's closer than the same run without it (hidden states
    alone)."""
    checkpoint = tiny_checkpoint("bert")
    inputs = AutoTokenizer.from_pretrained(checkpoint)(PASSAGES[:8], padding=True, return_tensors="pt")

    def scramble(model) -> None:
        scale = model.encoder.layer[-1].output.LayerNorm.weight
        scale.copy_(torch.randn(scale.shape, generator=torch.Generator().manual_seed(0)) * 3)

    def loss_after(sentence: bool, steps: int) -> float:
        models = _scrambled_and_trained(checkpoint, AutoModel, scramble,
                                        _heal_settings(steps, attention=False, sentence=sentence), "mean")  # fmt: skip
        with torch.no_grad():
            states = [m(**inputs).last_hidden_state for m in models]
        return float(_sentence_loss(*states, inputs["attention_mask"], "mean"))

    scrambled = loss_after(sentence=True, steps=0)
    assert scrambled > 0.01
    with_term, without_term = loss_after(True, 80), loss_after(False, 80)
    assert with_term < 0.6 * scrambled  # measured 0.38 of 0.80 (without the term 0.53)
    assert with_term < without_term


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_the_sentence_loss_sees_directions_not_scale_or_padding(pooling):
    states = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    assert float(_sentence_loss(states, states, mask, pooling)) < 1e-6
    assert float(_sentence_loss(2.5 * states, states, mask, pooling)) < 1e-6  # a normalised embedding's direction
    padded = states.clone()
    padded[1, 3:] = torch.randn(2, 8)  # padded tokens differ only
    assert float(_sentence_loss(padded, states, mask, pooling)) < 1e-6
    assert float(_sentence_loss(-states, states, mask, pooling)) > 1.0  # every direction reversed


def test_the_held_out_loss_is_measured_on_the_model_as_shipped(tiny_checkpoint):
    """int4 rounds its trained weights back onto the grid for export, so the healing reported must be the rounded
    model's (docs/distillation.md measures the two on minilm-l6-sst2). Here the "shipped" form is the teacher
    itself: its loss is 0, whatever training did; and the student is left in eval mode, as the export reads it."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint("bert-classifier"))
    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint("bert-classifier")).eval()
    student = copy.deepcopy(teacher)
    with torch.no_grad():
        student.get_input_embeddings().weight.mul_(1.1)
    config = DistillConfig(steps=2, batch=4, max_tokens=16, learning_rate=1e-4, attention=False, sentence=False)
    result = distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], PASSAGES, config,
                     shipped=lambda model: teacher)  # fmt: skip
    assert result.held_out_before == result.held_out_after == 0.0
    assert not student.training



def test_top1_agreement_counts_the_passages_whose_top_class_is_the_teachers():
    """A classifier's answer, which the held-out loss can leave behind (docs/encoder.md: a tucker run whose loss fell
    while it came to answer one label for every text); None where there is no class to agree on."""
    from types import SimpleNamespace

    teacher = SimpleNamespace(logits=torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.5], [0.2, 0.1]]))
    one_label = SimpleNamespace(logits=torch.tensor([[0.0, 1.0]] * 4))  # the other class for every passage
    assert top1_agreement(teacher, teacher) == 1.0
    assert top1_agreement(one_label, teacher) == 0.25
    regression = SimpleNamespace(logits=torch.ones(4, 1))
    assert top1_agreement(regression, regression) is None
    assert top1_agreement(SimpleNamespace(last_hidden_state=torch.ones(4, 3, 2)), teacher) is None


def test_the_held_out_agreement_is_measured_before_and_after_on_a_classifier(tiny_checkpoint):
    """The student starts as a compressed copy; its held-out answers are compared with the teacher's on the held-out
    passages before training and after, as a share of them. An embedder has none."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint("bert-classifier"))
    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint("bert-classifier")).eval()
    student = copy.deepcopy(teacher)
    config = DistillConfig(steps=2, batch=4, max_tokens=16, learning_rate=1e-4, attention=False, sentence=False)
    result = distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], PASSAGES, config)
    assert result.held_out_agreement_before == 1.0  # the student is the teacher before training
    agreeing = result.held_out_agreement_after * result.held_out_passages
    assert agreeing == pytest.approx(round(agreeing))  # a share of the held-out passages
    with torch.no_grad():
        student.classifier.bias.copy_(torch.tensor([-100.0, 100.0]))  # one label for every text
    wrecked = distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], PASSAGES,
                      DistillConfig(steps=1, batch=4, max_tokens=16, learning_rate=1e-12, attention=False,
                                    sentence=False))  # fmt: skip
    held_out = tokenizer(split_passages(PASSAGES, 0)[0], padding=True, truncation=True, max_length=16,
                         return_tensors="pt")  # fmt: skip
    teacher_labels = teacher(**held_out).logits
    expected = float((teacher_labels.argmax(-1) == 1).float().mean())  # 0.0: the tiny teacher answers 0 throughout
    assert wrecked.held_out_agreement_before == pytest.approx(expected) == wrecked.held_out_agreement_after < 0.5
    embedder = AutoModel.from_pretrained(tiny_checkpoint("bert")).eval()
    plain = distill(copy.deepcopy(embedder), embedder, AutoTokenizer.from_pretrained(tiny_checkpoint("bert")),
                    ["input_ids", "attention_mask"], PASSAGES, config)  # fmt: skip
    assert plain.held_out_agreement_before is None and plain.held_out_agreement_after is None

def test_seeding_leaves_the_callers_deterministic_settings_as_they_were():
    """seeded() turns deterministic kernels on for CUDA and back off; a caller's warn-only mode came back strict."""
    from export.distill import seeded

    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        with seeded(torch.device("cpu"), 0):
            pass
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_the_distill_stage_measures_the_held_out_loss_on_the_encoder_methods_shipped_form(tiny_checkpoint, tmp_path,
                                                                                          monkeypatch):  # fmt: skip
    """The stage hands distill() the encoder method's `shipped` (int4 rounds back onto its grid), so report.json's
    held-out losses are the exported model's."""
    from export import Int4Encoder, Int8, build, stages

    given = []

    def recorded(*args, **kwargs):
        given.append(kwargs["shipped"])
        return distill(*args, **kwargs)

    monkeypatch.setattr(stages, "distill", recorded)
    text = Path(__file__).resolve().parents[1] / "export" / "data" / "calibration.txt"
    build("bert", model=str(tiny_checkpoint("bert-classifier")), embedding=Int8(), encoder=Int4Encoder(),
          distill=DistillConfig(text=text, steps=2), target="onnx", progress=False, out=tmp_path / "b")  # fmt: skip
    assert len(given) == 1 and given[0].__func__ is Int4Encoder.shipped


def _short_pairs(tmp_path: Path) -> Path:
    """Six rows of two 5-word sentences: no single text passes read_passages' 8 words, every pair does."""
    table = tmp_path / "pairs.tsv"
    table.write_text("sentence1\tsentence2\tscore\n" + "".join(f"a short first text {i}\tthe second text is {i}\t3\n"
                                                          for i in range(6)))  # fmt: skip
    return table


def test_a_table_of_short_pairs_is_not_refused_before_the_model_says_whether_it_reads_pairs(tmp_path):
    """Before loading it is not known whether the model reads pairs, so the early check refuses only text that no
    reading can train on (a cross-encoder trains on these rows as pairs)."""
    from export.api import export_config
    from export.pipeline import check_config

    table = _short_pairs(tmp_path)
    assert len(read_passages(table, pairs=True)) == 6
    check_config(export_config("bert", distill=table, out=tmp_path / "b"))  # no refusal
    too_short = tmp_path / "short.tsv"
    too_short.write_text("sentence1\tsentence2\tscore\n" + "".join(f"a {i}\tb {i}\t3\n" for i in range(6)))
    with pytest.raises(UserInputError, match="fewer than 4 passages"):
        check_config(export_config("bert", distill=too_short, out=tmp_path / "c"))


def test_a_single_text_model_refuses_short_pairs_right_after_loading(tiny_checkpoint, tmp_path, monkeypatch):
    """The model's own reading is taken as soon as it is loaded, before the reference outputs and any scoring."""
    from export import build, pipeline

    def reached(*args, **kwargs):
        raise AssertionError("the fp32 reference ran before the distillation text was read")

    monkeypatch.setattr(pipeline, "fp32_reference", reached)
    with pytest.raises(UserInputError, match="fewer than 4 passages"):
        build("bert", model=str(tiny_checkpoint("bert-classifier")), distill=_short_pairs(tmp_path), target="onnx",
              progress=False, out=tmp_path / "b")  # fmt: skip
    assert not (tmp_path / "b").exists()


def _classifier_of_two_answers(checkpoint: Path, held_out: list[str], max_tokens: int):
    """The tiny classifier (which answers 0 to every text) with its bias moved to the widest gap between its margins
    on `held_out` near their middle: it answers 0 to some of those passages and 1 to the others."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    encoded = tokenizer(held_out, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits
        margins = (logits[:, 1] - logits[:, 0]).sort().values
        gap = max(range(1, len(margins) - 2), key=lambda i: float(margins[i + 1] - margins[i]))
        model.classifier.bias[1] -= (margins[gap] + margins[gap + 1]) / 2
        assert model(**encoded).logits.argmax(-1).unique().numel() == 2
    return tokenizer, model


def test_the_labels_a_classifier_answers_on_the_held_out_passages_are_counted(tiny_checkpoint):
    """Teacher and student each: how many labels are the top class of some held-out passage; a student pushed to
    one label (its bias) counts 1 where the teacher counts 2, an untouched copy as many as the teacher."""
    config = DistillConfig(steps=1, batch=4, max_tokens=16, learning_rate=1e-12, attention=False, sentence=False)
    tokenizer, teacher = _classifier_of_two_answers(tiny_checkpoint("bert-classifier"), split_passages(PASSAGES, 0)[0],
                                                    config.max_tokens)  # fmt: skip
    student = copy.deepcopy(teacher)
    kept = distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], PASSAGES, config)
    assert (kept.held_out_labels_original, kept.held_out_labels_before, kept.held_out_labels_after) == (2, 2, 2)
    with torch.no_grad():
        student.classifier.bias.copy_(torch.tensor([-100.0, 100.0]))  # one label for every text
    one = distill(student, teacher, tokenizer, ["input_ids", "attention_mask"], PASSAGES, config)
    assert (one.held_out_labels_original, one.held_out_labels_before, one.held_out_labels_after) == (2, 1, 1)
    embedder = AutoModel.from_pretrained(tiny_checkpoint("bert")).eval()
    plain = distill(copy.deepcopy(embedder), embedder, AutoTokenizer.from_pretrained(tiny_checkpoint("bert")),
                    ["input_ids", "attention_mask"], PASSAGES, config)  # fmt: skip
    assert plain.held_out_labels_original is plain.held_out_labels_after is None


def test_a_distilled_classifier_that_gives_one_label_to_every_held_out_passage_is_warned_about(
    tiny_checkpoint, tmp_path, capsys, monkeypatch
):
    """The export says so after its summary, from what the distill stage counted. Teaching a classifier to answer
    one label takes a real model minutes (a 40-step tucker run on minilm-l6-sst2, docs/distillation.md), and the
    tiny one answers one label before any training, so the stage's real result is given the counts of that run (the
    original 2 labels, the student 1); without that, nothing is said."""
    import json
    from dataclasses import replace

    from export import stages
    from export.cli import main

    real = stages.distill

    def collapsed(*args, **kwargs) -> DistillResult:
        return replace(real(*args, **kwargs), held_out_labels_original=2, held_out_labels_after=1)

    text = Path(__file__).resolve().parents[1] / "export" / "data" / "calibration.txt"
    for one_label in (True, False):
        if one_label:
            monkeypatch.setattr(stages, "distill", collapsed)
        else:
            monkeypatch.undo()
        out = tmp_path / str(one_label)
        # --distill-lr 1e-12: the weights, and so the answers, stay where they were
        code = main(["bert", "--no-strict", "--model", str(tiny_checkpoint("bert-classifier")), "--embedding", "int8",
                     "--distill", str(text), "--distill-steps", "2", "--distill-lr", "1e-12", "--target", "onnx",
                     "--out", str(out)])  # fmt: skip
        err = capsys.readouterr().err
        distilled = json.loads((out / "report.json").read_text())["distill"]
        assert code == 0 and distilled["held_out_labels_after"] == 1
        assert distilled["held_out_labels_original"] == (2 if one_label else 1)  # the tiny one answers 0 throughout
        warned = "warning: the distilled model gives one label to all 9 held-out passages, where the original gives 2"
        assert (warned in err) == one_label, err


def test_no_distillation_warning_without_class_logits_or_one_label_for_all():
    from export.report import distillation_warning

    def report(original, after, before=2):
        return {"distill": {"held_out_labels_original": original, "held_out_labels_before": before,
                            "held_out_labels_after": after, "held_out_passages": 64}}  # fmt: skip

    assert distillation_warning({"distill": None}) is None  # no --distill
    assert distillation_warning(report(None, None)) is None  # an embedder, a regression head
    assert distillation_warning(report(2, 2)) is None
    assert distillation_warning(report(1, 1)) is None  # the original gives one label too
    assert distillation_warning(report(3, 2)) is None  # fewer labels, but not one for all
    assert distillation_warning(report(2, 1)) == (
        "the distilled model gives one label to all 64 held-out passages, where the original gives 2: it may answer "
        "worse than one exported without --distill; more --distill-steps or a lower --distill-lr may mend it "
        "(--evaluate scores either)")  # fmt: skip
    # the compressed model gave one label before it trained: exporting without --distill is no way out
    assert distillation_warning(report(2, 1, before=1)).endswith(
        "where the original gives 2, as the compressed model did before distilling: more --distill-steps or a less "
        "compressed model may mend it (--evaluate scores either)")  # fmt: skip
