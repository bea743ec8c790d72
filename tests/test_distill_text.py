"""What the distillation stage reads as unlabelled text: text files, folders of them, GLUE TSVs without labels."""

from __future__ import annotations

from export.distill import read_passages

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


def test_a_glue_folder_gives_no_tsv(tmp_path):
    """A task folder holds dev.tsv, the evaluation set: only .txt files are read from folders."""
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\n" + f"{LONG.format('dev')}\t1\n" * 8)
    (tmp_path / "notes.txt").write_text("\n".join(LONG.format(i) for i in range(5)) + "\n= Heading =\nshort line\n")
    assert read_passages(tmp_path) == [LONG.format(i) for i in range(5)]
