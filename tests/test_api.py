"""The Python API (export.build) on tiny models: what it returns, that it is the CLI's export byte for byte, its
errors, and a new embedding method added as one class plus its registration."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import export
from export.api import export_config
from export.cli import main
from export.embedding import METHODS, CompressedEmbedding, EmbeddingMethod

ROOT = Path(__file__).resolve().parents[1]


def test_build_returns_the_bundle_and_its_report_and_prints_nothing(tmp_path, tiny_checkpoint, capfd):
    model = str(tiny_checkpoint("bert"))
    capfd.readouterr()  # building the tiny checkpoint's tokenizer prints
    result = export.build("bert", model=model, embedding=export.Int8(), out=tmp_path / "bundle", progress=False)
    assert capfd.readouterr() == ("", "")
    assert result.out == tmp_path / "bundle" and (result.out / "model.ort").is_file()
    assert result.report == json.loads((result.out / "report.json").read_text())
    assert result.sizes["model_bytes"] == (result.out / "model.ort").stat().st_size
    assert result.parity["passed"] and result.accuracy is None
    assert result.report["embedding"]["settings"] == {"method": "int8"}


def test_quieting_the_libraries_leaves_the_callers_logging_as_it_was():
    """onnxruntime.quantization logs through logging.warning(), on the root logger: build() raised the root's level
    to ERROR for good, silencing the calling app, and such a call gives a root without handlers a stderr handler
    for good (basicConfig). Now the root holds a NullHandler and a filter for the while, and is as it was after."""
    import logging

    from export.api import quiet_libraries

    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    root.handlers, root.level = [], logging.INFO  # an app that set a level and no handler
    try:
        with quiet_libraries():
            logging.warning("what onnxruntime.quantization does")

            def record(path: str, level: int) -> logging.LogRecord:
                return logging.LogRecord("root", level, path, 1, "a message", None, None)

            assert root.filter(record("/app/main.py", logging.INFO))
            assert not root.filter(record("/site-packages/onnxruntime/quantization/quant_utils.py", logging.WARNING))
            assert root.filter(record("/site-packages/onnxruntime/quantization/quant_utils.py", logging.ERROR))
        assert root.level == logging.INFO and root.handlers == [] and root.filters == []
    finally:
        root.handlers, root.level = handlers, level


def test_build_gives_the_cli_bundle_byte_for_byte(tmp_path, tiny_checkpoint):
    """`python -c "import export; export.build(...)"` and `python -m export ...`, from the same environment (the
    .ort converter's byte layout follows its environment, and pytest's differs from test to test)."""
    model = str(tiny_checkpoint("bert"))
    build = (f"import export; export.build('bert', model={model!r}, embedding=export.Svd(ratio=4), "
             f"out={str(tmp_path / 'api')!r}, progress=False)")  # fmt: skip
    cli = ["-m", "export", "bert", "--model", model, "--embedding", "svd", "--ratio", "4"]
    cli += ["--out", str(tmp_path / "cli")]
    for args in (["-c", build], cli):
        subprocess.run([sys.executable, *args], check=True, capture_output=True, cwd=ROOT, timeout=300)
    for name in ("model.ort", "golden.json", "bundle.json", "tokenizer.json"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    report = json.loads((tmp_path / "api" / "report.json").read_text())
    assert report["embedding"]["settings"] == {"method": "svd", "ratio": 4.0}
    config = report["config"]  # every stage's resolved settings
    assert config["embedding"] == report["embedding"]["settings"] and config["task"] == report["task"]
    assert config["encoder"] == {"method": "int8"} and config["smooth"] and config["distill"]["text"] is None


def test_build_refuses_what_the_cli_refuses(tmp_path, tiny_checkpoint):
    with pytest.raises(export.UserInputError, match="unknown preset"):
        export.build("gpt", out=tmp_path / "b", progress=False)
    with pytest.raises(export.UserInputError, match=r"export\.LightToken"):
        export.build("bert", embedding="lighttoken", out=tmp_path / "b", progress=False)
    with pytest.raises(export.UserInputError, match="greater than 1"):
        export.build("bert", embedding=export.Svd(ratio=0.5), out=tmp_path / "b", progress=False)
    with pytest.raises(export.UserInputError, match="unknown task 'translation'"):
        export.build("bert", task="translation", out=tmp_path / "b", progress=False)
    with pytest.raises(export.UserInputError, match=r"export\.Int4Encoder"):
        export.build("bert", encoder="int3", out=tmp_path / "b", progress=False)
    with pytest.raises(export.UserInputError, match="block_size must be"):
        export.build("bert", encoder=export.Int4Encoder(block_size=48), out=tmp_path / "b", progress=False)
    assert list(tmp_path.iterdir()) == []
    assert export.UserInputError.exit_code == 2 and export.ParityError.exit_code == 1


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"embedding": export.LightToken(ratio=None)}, "lighttoken ratio must be a number (got None)"),
        ({"embedding": export.LightToken(stages=2.5)}, "lighttoken stages must be a whole number (got 2.5)"),
        ({"embedding": export.LightToken(frequency_power=float("nan"))}, "lighttoken frequency_power must be from 0"),
        # these three failed inside the fit: a LinAlgError, a MemoryError, a fit that would run for days
        ({"embedding": export.LightToken(frequency_power=1e12)}, "frequency_power must be from 0 (every token alike)"),
        ({"embedding": export.LightToken(stages=10**12)}, "lighttoken needs 1 <= stages <= 64"),
        ({"embedding": export.LightToken(rounds=10**9)}, "lighttoken needs 1 <= stages <= 64, 0 <= rounds <= 100"),
        ({"embedding": export.LightToken(frequency_power="x")}, "frequency_power must be a number (got 'x')"),
        ({"embedding": export.DirectionAE(batch=0)}, "direction-ae needs epochs >= 1, batch >= 1"),
        ({"encoder": export.Int4Encoder(block_size=128.0)}, "int4 block_size must be a whole number (got 128.0)"),
        ({"encoder": export.Tucker(ratio=None)}, "tucker ratio must be a number (got None)"),
        ({"distill": export.DistillConfig(text="t.txt", steps=1.5)}, "distill steps must be a whole number"),
        ({"distill": export.DistillConfig(text="t.txt", batch=0)}, "distill batch must be at least 1 passage"),
        ({"vocab": export.VocabConfig(text="t.txt", rest="100")}, "vocab rest must be a number or None (got '100')"),
        ({"distill": export.DistillConfig(steps=5)}, "DistillConfig settings without a text do nothing"),
        ({"vocab": export.VocabConfig(rest=50.0)}, "VocabConfig settings without a text do nothing; give it text="),
        ({"seed": 1.5}, "--seed must be a whole number (got 1.5)"),
        ({"seed": -1}, "--seed must be between 0 and"),
        ({"target": ["onnx"]}, "target must be a string (got ['onnx'])"),  # these were bare TypeErrors
        ({"preset": ["bert"]}, "preset must be a string (got ['bert'])"),
        ({"out": 5}, "out must be a path or None (got 5)"),
        ({"distill": 5}, "distill text must be a path or None (got 5)"),
        ({"strict": "no"}, "strict must be True or False (got 'no')"),
        ({"progress": "no"}, "progress must be True or False (got 'no')"),
        ({"cache": "x"}, "cache must be an export.Cache or None (got 'x')"),  # failed after the compress stage
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_build_refuses_settings_of_the_wrong_type_before_any_work(tmp_path, settings, expected):
    """A Python caller can pass any value; each of these used to pass the checks and fail minutes later inside
    torch or numpy (or, for max_tokens=0, publish a bundle distilled on empty passages; or, given settings and no
    text, export without distilling or pruning)."""
    (tmp_path / "t.txt").write_text("".join(f"passage {i} of text, long enough to count as one\n" for i in range(50)))
    settings = {key: replace_text(value, tmp_path) for key, value in settings.items()}
    with pytest.raises(export.UserInputError, match=re.escape(expected)):
        export.build(**{"preset": "bert", "out": tmp_path / "b", "progress": False, **settings})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def replace_text(value, folder: Path):
    """A DistillConfig/VocabConfig with its text moved into `folder`; anything else as it is."""
    if isinstance(value, (export.DistillConfig, export.VocabConfig)) and value.text is not None:
        return dataclasses.replace(value, text=folder / value.text.name)
    return value


def test_distill_and_vocab_configs_take_a_str_as_their_text(tmp_path):
    """A Python caller writes DistillConfig(text="train.tsv"); it is read as a path (it used to reach the reader
    as a str and end in an AttributeError traceback), so a missing file gets the one-line error."""
    config = export_config("bert", distill=export.DistillConfig(text="a.txt", steps=5),
                           vocab=export.VocabConfig(text="b.txt"))  # fmt: skip
    assert config.distill.text == Path("a.txt") and config.distill.steps == 5 and config.vocab.text == Path("b.txt")
    missing = str(tmp_path / "missing.txt")
    for settings in ({"distill": export.DistillConfig(text=missing)}, {"vocab": export.VocabConfig(text=missing)}):
        with pytest.raises(export.UserInputError, match=r"missing\.txt"):
            export.build("bert", out=tmp_path / "b", progress=False, **settings)
    assert not (tmp_path / "b").exists()


def test_export_config_takes_builds_defaults():
    """The CLI and benchmarks/fit_spread.py go through export_config: its defaults must be build()'s."""
    build, config = inspect.signature(export.build).parameters, inspect.signature(export_config).parameters
    assert {n: p.default for n, p in config.items()} == {n: build[n].default for n in config}
    assert set(build) - set(config) == {"progress", "cache"}


@dataclass(frozen=True)
class Fp16(EmbeddingMethod):
    """A toy method, written as a new method is: a frozen dataclass of settings with a fit()."""

    name = "fp16"
    summary = "the table in fp16"
    lossy = False

    def fit(self, table: torch.Tensor, seed: int, stats=None) -> CompressedEmbedding:
        return HalfRows(table.half())


class HalfRows(CompressedEmbedding):
    def __init__(self, rows: torch.Tensor) -> None:
        super().__init__(*rows.shape)
        self.register_buffer("rows", rows)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.rows[input_ids].float()


def test_a_new_embedding_method_is_a_class_and_its_registration(tmp_path, tiny_checkpoint, monkeypatch):
    monkeypatch.setitem(METHODS, Fp16.name, Fp16)
    out = tmp_path / "bundle"
    assert main(["bert", "--model", str(tiny_checkpoint("bert")), "--embedding", "fp16", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    stored = report["embedding"]["rows_stored"] * 32 * 2  # the tiny model's rows, 32 wide, 2 bytes each
    assert report["embedding"]["method"] == "fp16" and report["size"]["embedding_bytes"] >= stored
    assert report["size"]["embedding_ratio_vs_fp32"] == pytest.approx(2.0, rel=0.05)
    assert report["parity"]["passed"] and report["parity"]["min_cosine"] > 0.99


def test_a_shared_cache_scores_a_rewritten_data_file_afresh(tmp_path, tiny_checkpoint):
    """The cache keeps each data set's fp32 and baseline scores, keyed by the file's bytes as well as its path: a
    search writes its split to the same path whatever the data, and two searches may share one Cache."""
    from conftest import SST2_DEV

    rows = SST2_DEV.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "data.tsv"
    model = str(tiny_checkpoint("bert-classifier"))
    with export.Cache() as cache:
        for count in (40, 60):
            data.write_text("\n".join(rows[: count + 1]) + "\n", encoding="utf-8")
            result = export.build("bert", model=model, embedding=export.Int8(), evaluate=data, out=tmp_path / "b",
                                  force=True, cache=cache, progress=False)  # fmt: skip
            assert result.accuracy["examples"] == count
        fresh = export.build("bert", model=model, embedding=export.Int8(), evaluate=data, out=tmp_path / "c",
                             progress=False)  # fmt: skip
    assert result.accuracy == fresh.accuracy


def test_a_shared_cache_builds_afresh_from_a_checkpoint_saved_again_in_place(tmp_path, tiny_checkpoint):
    """The baseline and the fp32 scores are keyed by the checkpoint's contents, not only its folder: fine-tuned and
    saved to the same folder between two builds, the second scored the old model's (its classifier negated
    here, so every score flips)."""
    import shutil

    from conftest import SST2_DEV
    from transformers import AutoModelForSequenceClassification

    checkpoint = tmp_path / "model"
    shutil.copytree(tiny_checkpoint("bert-classifier"), checkpoint)
    data = tmp_path / "data.tsv"
    data.write_text("\n".join(SST2_DEV.read_text(encoding="utf-8").splitlines()[:81]) + "\n", encoding="utf-8")
    settings = {"model": str(checkpoint), "embedding": export.Int8(), "evaluate": data, "progress": False}
    with export.Cache() as cache:
        export.build("bert", out=tmp_path / "a", cache=cache, **settings)
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
        with torch.no_grad():
            model.classifier.weight.neg_()
            model.classifier.bias.neg_()
        model.save_pretrained(checkpoint)
        again = export.build("bert", out=tmp_path / "b", cache=cache, **settings)
    fresh = export.build("bert", out=tmp_path / "c", **settings)
    assert again.accuracy == fresh.accuracy and again.report["parity"] == fresh.report["parity"]



def test_a_shared_cache_fits_a_table_once_and_gives_the_same_bundle_bytes(tmp_path, tiny_checkpoint, monkeypatch):
    """A search exports each table with several encoders and again to confirm its pick: in one Cache a table is
    fitted once per method, seed and rows (stages.compressed_table), and the bundle is byte for byte what a fit of
    its own gives. Another seed, ratio or checkpoint fits anew."""
    from export.embedding.lighttoken import LightToken

    fits = []
    fit = LightToken.fit
    monkeypatch.setattr(LightToken, "fit", lambda self, *a, **k: fits.append(self) or fit(self, *a, **k))
    model, other = str(tiny_checkpoint("bert")), str(tiny_checkpoint("bert-classifier"))
    table = export.LightToken(ratio=4)
    with export.Cache() as cache:
        def build(name: str, **settings) -> Path:
            arguments = {"model": model, "embedding": table, "encoder": export.Int8Encoder(), **settings}
            export.build("bert", out=tmp_path / name, cache=cache, progress=False, **arguments)
            return tmp_path / name

        first = build("first")
        assert len(fits) == 1
        build("int4", encoder=export.Int4AsInt8())  # the same table, another encoder
        again = build("again")
        assert len(fits) == 1
        build("seed", seed=1)
        build("ratio", embedding=export.LightToken(ratio=5))
        build("other", model=other)
        assert len(fits) == 4
    fresh = tmp_path / "fresh"
    export.build("bert", model=model, embedding=table, out=fresh, progress=False)
    assert len(fits) == 5
    for name in ("model.ort", "golden.json", "bundle.json"):
        assert (again / name).read_bytes() == (first / name).read_bytes() == (fresh / name).read_bytes(), name

def test_a_cache_entry_whose_making_failed_leaves_the_next_one_its_own_folder():
    def failing(folder):
        raise RuntimeError("an optimum export that failed")

    with export.Cache() as cache:
        with pytest.raises(RuntimeError):
            cache.get("first", failing)
        folder = cache.get("second", lambda made: made)
        assert folder.is_dir() and not any(folder.iterdir())


def test_every_package_is_listed_for_the_wheel():
    """pyproject.toml names its packages one by one (the presets folder ships as export.model_presets), so a new
    subpackage left off the list is missing from a wheel install (`pip install .`) though an editable one runs."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for top in ("export", "runtime_py")
             for p in (root / top).rglob("__init__.py")}  # fmt: skip
    assert found | {"export.model_presets"} == listed


@pytest.mark.parametrize(
    ("files", "weights"),
    [(["model.safetensors", "pytorch_model.bin"], "*.safetensors"), (["pytorch_model.bin"], "*.bin")],
)
def test_a_hub_checkpoint_fetches_its_safetensors_else_its_pickled_weights(tmp_path, monkeypatch, files, weights):
    """Only the hub client is stood in for (no network here): a repository with no safetensors (older fine-tunes)
    was fetched without weights and failed to load."""
    import huggingface_hub

    from export.load import _download

    asked = {}
    monkeypatch.setattr(huggingface_hub, "list_repo_files", lambda repo_id: ["config.json", "vocab.txt", *files])

    def snapshot_download(repo_id, allow_patterns):
        asked["patterns"] = allow_patterns
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    assert _download("org/model") == tmp_path
    assert weights in asked["patterns"] and ({"*.bin", "*.safetensors"} - {weights}).isdisjoint(asked["patterns"])


def test_a_checkpoint_under_the_home_folder_is_named_and_hashed_as_any_other(tmp_path, monkeypatch):
    """`~/m` is the folder m (the loader expands it): bundle.json names it m, and its digest is its files'."""
    from export.bundle import published_name
    from export.cache import contents_digest

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "m" / "checkpoint-1").mkdir()  # a trainer's subfolder: never read, so never hashed
    (tmp_path / "m" / "checkpoint-1" / "optimizer.pt").write_bytes(b"x")
    assert published_name("~/m") == published_name(str(tmp_path / "m")) == "m"
    digest = contents_digest("~/m")
    assert digest is not None and digest == contents_digest(tmp_path / "m")
    (tmp_path / "m" / "checkpoint-1" / "optimizer.pt").write_bytes(b"y")
    assert contents_digest("~/m") == digest
    (tmp_path / "m" / "config.json").write_text('{"a": 1}')
    assert contents_digest("~/m") != digest
    # a sentence-transformers module's settings are read (the pooling the fp32 and baseline scores are made with)
    (tmp_path / "m" / "modules.json").write_text('[{"idx": 1, "name": "1", "path": "1_Pooling"}]')
    (tmp_path / "m" / "1_Pooling").mkdir()
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (tmp_path / "m" / "checkpoint-1" / "config.json").write_text("{}")  # a trainer's, never read
    digest = contents_digest("~/m")
    (tmp_path / "m" / "checkpoint-1" / "config.json").write_text('{"a": 2}')
    assert contents_digest("~/m") == digest
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    assert contents_digest("~/m") != digest


def test_empty_strings_and_python_numbers_mean_what_the_flags_do(tmp_path, tiny_checkpoint):
    """An empty string is no path (Path("") is the working folder, read or written in its place; an empty model
    fell back to the preset's checkpoint); an int where a float is meant is stored as the flag's float; a bool is
    no ratio; a model folder may be a Path, as every other path."""
    for arguments, refusal in (({"model": ""}, "model is empty"), ({"out": ""}, "out is empty"),
                               ({"evaluate": " "}, "evaluate is empty"), ({"distill": ""}, "distill text is empty"),
                               ({"vocab": ""}, "vocab text is empty")):  # fmt: skip
        with pytest.raises(export.UserInputError, match=refusal):
            export_config("bert", **arguments)
    assert export.VocabConfig(text="domain.txt", rest=50).rest == 50.0
    assert export.DistillConfig(learning_rate=1).learning_rate == 1.0
    with pytest.raises(export.UserInputError, match="ratio must be a number"):
        export.Svd(ratio=True).check()  # what build() checks before any work
    folder = tiny_checkpoint("bert")
    assert export_config("bert", model=folder).checkpoint == str(folder)


def test_numpy_numbers_are_stored_as_the_python_numbers_they_hold(tmp_path):
    """`for seed in np.arange(5)` or a ratio from a numpy grid: accepted as numbers, and stored as Python ones, or
    report.json's writer failed on them at the bundle stage, after the whole export (np.int64 and np.float32 are not
    JSON)."""
    import numpy as np

    from export.budget import SearchSettings

    config = export_config("bert", embedding=export.LightToken(ratio=np.float32(30)), seed=np.int64(3),
                           distill=export.DistillConfig(text=tmp_path / "t.txt", steps=np.int64(5),
                                                        learning_rate=np.float64(1e-4)),
                           vocab=export.VocabConfig(text=tmp_path / "t.txt", min_count=np.int32(2),
                                                    rest=np.float32(100)),
                           out=tmp_path / "b")  # fmt: skip
    written = json.loads(json.dumps(config.to_json("feature-extraction")))
    assert (written["seed"], written["embedding"]["ratio"]) == (3, 30.0)
    assert (written["distill"]["steps"], written["vocab"]["min_count"], written["vocab"]["rest"]) == (5, 2, 100.0)
    assert type(config.seed) is int and type(config.embedding.ratio) is float
    settings = SearchSettings(max_drop=np.float64(0.5), minutes=np.int64(5), seeds=np.int64(2))
    assert (type(settings.max_drop), type(settings.minutes), type(settings.seeds)) == (float, float, int)
