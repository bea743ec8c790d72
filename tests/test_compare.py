"""benchmarks/compare.py: the competitor builds, the measurements, and one whole comparison on a tiny model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmark scripts import each other as siblings

import compare  # noqa: E402
import measure  # noqa: E402
from competitors import build_gather4, pack_rows  # noqa: E402
from report_tables import floor_checks, markdown  # noqa: E402


@pytest.fixture(scope="module")
def optimum_fp32(tmp_path_factory, tiny_checkpoint):
    """(a) for the tiny BERT embedder: optimum-cli's fp32 export folder."""
    out = tmp_path_factory.mktemp("a-fp32")
    command = [sys.executable, "-m", "optimum.commands.optimum_cli", "export", "onnx", "--model",
               str(tiny_checkpoint("bert")), "--task", "feature-extraction", "--library-name", "transformers",
               str(out)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return out


def dequantize(data: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, block: int) -> np.ndarray:
    """The reference decode of uint8-packed 4-bit rows (low nibble first), written out in numpy."""
    q = np.stack([data & 0xF, data >> 4], -1).reshape(len(data), -1).astype(np.float32)
    z = np.stack([zero_points & 0xF, zero_points >> 4], -1).reshape(len(data), -1)[:, : scales.shape[1]]
    width = q.shape[1]
    return (q - np.repeat(z, block, 1)[:, :width]) * np.repeat(scales, block, 1)[:, :width]


def test_pack_rows_keeps_each_row_on_its_own_bytes():
    values = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    assert pack_rows(values).tolist() == [[0x21, 0x03], [0x54, 0x06]]


def test_gather4_build_is_ort_block_quantization_in_the_mobile_form(optimum_fp32, tmp_path):
    model_path = build_gather4(optimum_fp32, tmp_path / "c")
    model = onnx.load(model_path)
    (node,) = [n for n in model.graph.node if n.op_type == "GatherBlockQuantized"]
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attributes["bits"] == 4 and attributes["block_size"] == 128 and attributes["quantize_axis"] == 1
    tensors = {t.name: t for t in model.graph.initializer}
    data, scales, zero_points = (numpy_helper.to_array(tensors[name]) for name in (node.input[0], *node.input[2:]))
    assert data.dtype == zero_points.dtype == np.uint8  # not UINT4, which the .ort format cannot hold
    fp32 = onnx.load(optimum_fp32 / "model.onnx")
    table = next(numpy_helper.to_array(t) for t in fp32.graph.initializer if t.dims[0] == data.shape[0])
    assert data.shape == (table.shape[0], table.shape[1] // 2)
    decoded = dequantize(data, scales, zero_points, 128)
    assert np.all(np.abs(decoded - table) <= np.repeat(scales, 128, 1)[:, : table.shape[1]] / 2 + 1e-6)
    # ORT's kernel decodes the rows exactly as the reference does
    graph = helper.make_graph(
        [helper.make_node("GatherBlockQuantized", ["d", "i", "s", "z"], ["o"], domain="com.microsoft", **attributes)],
        "gather4", [helper.make_tensor_value_info("i", onnx.TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("o", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for a, n in ((data, "d"), (scales, "s"), (zero_points, "z"))],
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]
    one_op = helper.make_model(graph, opset_imports=opsets)
    one_op.ir_version = 8
    rows = ort.InferenceSession(one_op.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(rows.run(None, {"i": np.arange(len(data))})[0], decoded)
    # the whole model converts to .ort and runs there
    from export.targets import get_target

    ort_file = tmp_path / "c.ort"
    get_target("onnx-mobile").write_model(model_path, ort_file)
    ids = np.array([[2, 40, 41, 3]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    outputs = [measure.session(p, 1).run(feed) for p in (model_path, ort_file)]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


def test_peak_memory_is_the_commands_own_not_the_parents():
    """The pytest process holds torch (hundreds of MB); a small child must not report that."""
    grow = "import numpy as np; a = np.ones(300_000_000 // 8); a += 1"
    small = measure.timed_child([sys.executable, "-c", "pass"])
    big = measure.timed_child([sys.executable, "-c", grow])
    assert measure.memory_mb("VmHWM") > 200  # the premise: this process is big
    assert small.peak_rss_mb < 60, small
    assert big.peak_rss_mb > 300, big
    with pytest.raises(RuntimeError, match="exited 3"):
        measure.timed_child([sys.executable, "-c", "raise SystemExit(3)"])



@pytest.mark.parametrize("arguments", [["--help"], ["result.json", "true"], ["result.json", "--"]])
def test_the_peak_memory_wrapper_prints_its_usage_for_arguments_it_cannot_run(arguments, tmp_path):
    script = ROOT / "benchmarks" / "peak_rss.py"
    run = subprocess.run([sys.executable, str(script), *arguments], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "peak_rss.py RESULT.json -- COMMAND" in run.stderr and not list(tmp_path.iterdir())

def test_interleaved_latency_measures_every_session(optimum_fp32, tmp_path):
    model = optimum_fp32 / "model.onnx"
    sessions = {"x": measure.session(model, 1), "y": measure.session(model, 1)}
    inputs = measure.fixed_length_inputs(optimum_fp32 / "tokenizer.json", 16)
    assert inputs["input_ids"].shape == (1, 16)
    result = measure.interleaved_latency(sessions, inputs, runs=20)
    assert set(result) == {"x", "y"}
    assert all(0 < r.p50_ms <= r.p95_ms and r.runs == 20 for r in result.values())


def test_whole_comparison_on_a_tiny_model(tmp_path, tiny_checkpoint, shared_assets):
    """Every build, every figure, ratios to (b), on the tiny embedder and 30 STS-B pairs."""
    for split in ("dev", "train"):  # dev is scored; train's sentences are distilled on
        rows = (shared_assets / f"data/glue/STS-B/{split}.tsv").read_text(encoding="utf-8").splitlines()[:31]
        (tmp_path / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = compare.CompareModel("tiny", str(tiny_checkpoint("bert")), "feature-extraction", tmp_path, 0.01)
    quiet = compare.Console(quiet=True)
    results = compare.compare_model(model, ratios=[4], distill_steps=2, runs=5, console=quiet, seeds=2)
    assert [r["key"] for r in results] == ["a", "b", "c", "4x"]
    by_key = {r["key"]: r for r in results}
    assert by_key["4x"]["seeds"] == 2 and len(by_key["4x"]["scores"]) == 2 and by_key["a"]["seeds"] == 1
    assert by_key["4x"]["score"] == pytest.approx(sum(by_key["4x"]["scores"]) / 2)
    assert by_key["4x"]["score_worst"] == min(by_key["4x"]["scores"])
    assert by_key["a"]["parity"] == pytest.approx(1.0)  # (a) against itself
    assert by_key["4x"]["achieved_ratio"] == pytest.approx(4, rel=0.05)
    assert by_key["4x"]["distill_steps"] == 2 and by_key["4x"]["build"].endswith(", distilled")
    assert by_key["c"]["bytes"] < by_key["b"]["bytes"] < by_key["a"]["bytes"]
    for r in results:
        assert 0 < r["zipped_bytes"] <= r["bytes"] + 200
        assert -1 <= r["score"] <= 1 and 0.5 < r["parity"] <= 1.0 + 1e-9
        assert 0 < r["p50_ms_128tok_2t"] <= r["p95_ms_128tok_2t"]
        assert r["load_ms"] > 0 and r["rss_before_load_mb"] < r["peak_rss_mb"] < 1000
        assert r["export_seconds"] > 0 and r["export_peak_rss_mb"] > 50
    text = markdown(results, compare.machine(), {"tiny": 0.01})
    assert "| (b) int8 (optimum/ORT --arm64) | " in text and text.count("(1.00x)") >= 14  # (b)'s row against itself
    assert f"{by_key['4x']['score']:.4f} ± {by_key['4x']['score_sd']:.4f} [worst" in text
    json.dumps(results)  # the JSON output holds plain values


def test_a_bundle_with_load_time_weights_is_sized_and_timed_with_them(tiny_int4_bundle, tiny_bundle):
    """int4-as-int8's weights.ort ships beside model.ort: compare counts both files and its sessions bind it."""
    folder = tiny_int4_bundle[0]
    assert compare.shipped(folder / "model.ort").paths == [folder / "model.ort", folder / "weights.ort"]
    assert compare.shipped(tiny_bundle[0] / "model.ort").paths == [tiny_bundle[0] / "model.ort"]
    inputs = measure.fixed_length_inputs(folder / "tokenizer.json", 16)
    timed = measure.interleaved_latency({"int4": measure.session(folder / "model.ort", 1)}, inputs, runs=3)
    assert timed["int4"].p50_ms > 0


def test_bundle_facts_read_a_report_without_distillation():
    report = {"size": {"embedding_ratio_vs_fp32": 49.6, "encoder_bytes": 10_000}, "parity": {"passed": True},
              "distill": None, "encoder": {"method": "int8"}, "config": {"encoder": {"method": "int8"}}}  # fmt: skip
    assert compare.bundle_facts(report) == {"achieved_ratio": 49.6, "encoder": "int8", "encoder_bytes": 10_000,
                                            "export_parity_passed": True, "distill_steps": 0}  # fmt: skip
    report["encoder"] = report["config"]["encoder"] = {"method": "tucker", "ratio": 4.0, "calibrate": True}
    assert compare.bundle_facts(report)["encoder"] == "tucker calibrated"


def test_floors_are_checked_on_the_50x_bundle():
    base = {"bytes": 100, "score": 0.86, "p50_ms_128tok_1t": 10.0, "p50_ms_128tok_2t": 6.0, "peak_rss_mb": 100.0}
    rows = [{**base, "key": "b"}, {**base, "key": "50x", "bytes": 54, "score": 0.84, "p50_ms_128tok_1t": 10.6}]
    verdicts = [met for _, met in floor_checks(rows, max_drop=0.01)]
    assert verdicts == [True, False, False, True, True]  # size, score drop, latency 1 thread, 2 threads, memory


def test_encoder_specs_become_export_flags():
    assert compare.encoder_flags("tucker:4") == ["--encoder", "tucker", "--encoder-ratio", "4"]
    assert compare.encoder_flags("int4") == ["--encoder", "int4"]
    assert compare.encoder_flags("int4-as-int8") == ["--encoder", "int4-as-int8"]


def test_latency_script_times_each_model_against_the_reference_and_profiles_its_operators(tiny_bundle):
    """benchmarks/latency.py on a tiny int8 bundle, taken against itself: a row per model and token count, the
    reference's ratio 1.000x in every repeat, and ORT's per-operator profile naming the int8 MatMul kernels."""
    folder = tiny_bundle[0]
    command = [sys.executable, str(ROOT / "benchmarks/latency.py"), "--reference", str(folder), str(folder),
               "--tokens", "8", "4", "--runs", "3", "--repeats", "2", "--profile"]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith(("| reference |", f"| {folder} |"))]
    assert [(row[0], row[1]) for row in rows] == [("| reference", "8"), (f"| {folder}", "8"),
                                                   ("| reference", "4"), (f"| {folder}", "4")]  # fmt: skip
    assert all(re.fullmatch(r"[0-9.]+ ms \(1\.000x\), p95 [0-9.]+ ms", cell.rstrip(" |"))
               for row in rows if row[0] == "| reference" for cell in row[2:])  # fmt: skip
    assert "AMD" in out or "Intel" in out or "(family" in out or "implementer" in out  # the CPU is named
    profile = {line.split(" | ")[0]: line for line in out.splitlines() if line.startswith("| ") and " ms |" in line}
    assert "| DynamicQuantizeMatMul" in profile and "| total" in profile


@pytest.mark.parametrize(
    ("script", "flags", "expected"),
    [
        ("sweep.py", ["--methods", "bogus"], "unknown embedding method 'bogus'"),  # emptied sweep.csv, then failed
        ("sweep.py", ["--distill-steps", "-5"], "--distill-steps must be 0 (none) or from 1"),  # was "unreachable"
        ("compare.py", ["--runs", "0"], "--runs and --seeds must be at least 1"),  # failed after every export
        ("compare.py", ["--encoders", "tucker:0.5"], "--encoder-ratio must be a number greater than 1"),
    ],
)
def test_a_benchmarks_bad_settings_are_refused_before_it_writes_or_builds(tmp_path, script, flags, expected):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *flags, "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and expected in result.stderr.splitlines()[-1], result.stderr
    assert not (tmp_path / "o").exists()


def test_a_sweep_point_that_failed_says_why_and_only_an_unreachable_ratio_is_called_so(tmp_path):
    import sweep

    named = {"model": "m", "method": "svd", "ratio": 8.0, "encoder": "int8", "vocab": "", "seed": 0}
    rows = [{**named, "note": "svd cannot reach ratio 8 on a 10x4 table (reachable: none); choose ..."},
            {**named, "ratio": 9.0, "note": "--distill-steps must be from 1 to 100,000 (got -5)"}]  # fmt: skip
    sweep.write_table(rows, tmp_path / "sweep.md")
    table = (tmp_path / "sweep.md").read_text()
    assert "| 8 | int8 | — | unreachable |" in table and "| 9 | int8 | — | --distill-steps must be from 1" in table
    (tmp_path / "sweep.png").write_text("an earlier run's chart")
    sweep.write_plot(rows, tmp_path / "sweep.png")  # nothing measured: no chart (it failed on an empty figure)
    assert not (tmp_path / "sweep.png").exists()
