"""The .ort file's layout: the same model gives the same bytes whichever process converted it (ort_layout.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from conftest import export_bundle

from export.targets.ort_layout import ALIGNMENT, canonical_ort, ort_laid_out

ROOT = Path(__file__).resolve().parents[1]
# ORT's converter alone (no canonical layout), in a process of its own: the order it lays the kernel-type table out
# in follows the process's memory layout (ASLR, PYTHONPATH).
RAW_CONVERSION = "import sys; from pathlib import Path; from export.targets.ort_convert import _convert; " \
                 "_convert(Path(sys.argv[1]), Path(sys.argv[2]))"  # fmt: skip


def _convert_in_a_process(onnx_model: Path, out: Path, python_path: str) -> bytes:
    out.mkdir()
    environment = {**os.environ, "PYTHONPATH": python_path}
    command = [sys.executable, "-c", RAW_CONVERSION, str(onnx_model), str(out / "model.ort")]
    subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True, timeout=300)
    return (out / "model.ort").read_bytes()



def _same_outputs(first: Path, second: Path) -> bool:
    """Does ONNX Runtime compute the same first output from the two .ort files, on one short input?"""
    sessions = [ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]) for f in (first, second)]
    ids = np.array([[101, 7, 42, 102]])
    feed = {i.name: ids if i.name == "input_ids" else np.ones_like(ids) if i.name == "attention_mask" else
            np.zeros_like(ids) for i in sessions[0].get_inputs()}  # fmt: skip
    return np.array_equal(sessions[0].run(None, feed)[0], sessions[1].run(None, feed)[0])

def test_two_processes_lay_out_the_same_model_alike(tmp_path, tiny_checkpoint, export_cache):
    """Two processes that differ as two installs or two machines do (ASLR on, another PYTHONPATH) convert the same
    .onnx to differently laid out files; canonical_ort makes them byte for byte equal, and what ONNX Runtime
    computes from the file is what it computed from the converter's. Broken on purpose (canonical_ort returning
    before it writes), the two files differ, as the first assert shows they do without it."""
    flags = ["--model", str(tiny_checkpoint("bert-classifier")), "--target", "onnx", "--ratio", "12"]
    bundle, _ = export_bundle(tmp_path, export_cache, *flags)
    raws, files = [], []
    for name, python_path in (("a", str(ROOT)), ("b", f"{ROOT}{os.pathsep}{tmp_path / 'elsewhere'}")):
        raws.append(_convert_in_a_process(bundle / "model.onnx", tmp_path / name, python_path))
        files.append(tmp_path / name / "model.ort")
        assert canonical_ort(files[-1])
    assert raws[0] != raws[1]  # the converter's layouts differ...
    assert files[0].read_bytes() == files[1].read_bytes()  # ...and the canonical files do not

    converted = tmp_path / "converter.ort"
    converted.write_bytes(raws[0])
    assert _same_outputs(converted, files[0])


def test_the_canonical_file_does_not_depend_on_the_converters_length(tmp_path, tiny_checkpoint, export_cache):
    """The converter's file length moves with its layout: the same content, laid out to lengths that are multiples
    of 8, 16, 32 and 128 (as two processes' converters can leave it), gives one canonical file, which ONNX Runtime
    runs as it ran the converter's. Padding to the converter's own length's alignment instead, the padding followed
    the layout: 1 export in 12 gave the API and the CLI different files (8 bytes apart)."""
    flags = ["--model", str(tiny_checkpoint("bert-classifier")), "--target", "onnx", "--ratio", "12"]
    bundle, _ = export_bundle(tmp_path, export_cache, *flags)
    raw = _convert_in_a_process(bundle / "model.onnx", tmp_path / "raw", str(ROOT))
    variants = [ort_laid_out(raw, alignment) for alignment in (8, 16, 32, 128)]
    assert len({min(len(v) & -len(v), ALIGNMENT) for v in variants}) > 1  # lengths of different alignments
    canonical = []
    for i, variant in enumerate(variants):
        (tmp_path / f"{i}.ort").write_bytes(variant)
        assert canonical_ort(tmp_path / f"{i}.ort")
        canonical.append((tmp_path / f"{i}.ort").read_bytes())
    assert all(c == canonical[0] for c in canonical) and len(canonical[0]) % ALIGNMENT == 0
    (tmp_path / "raw.ort").write_bytes(raw)
    assert _same_outputs(tmp_path / "raw.ort", tmp_path / "0.ort")


def test_the_conversion_does_not_read_the_optimisation_level_from_the_shell(tmp_path, monkeypatch):
    """ORT's converter takes its level from ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL and names its output
    model.LEVEL.ort for any but the default: an export from a shell that set it failed at the end with a traceback."""
    import onnx
    from onnx import TensorProto, helper

    from export.targets.ort_convert import ORT_CONVERT_LEVEL_VARIABLE, convert_to_ort

    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [value],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])  # fmt: skip
    model = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8), str(model))
    (tmp_path / "default").mkdir()
    convert_to_ort(model, tmp_path / "default" / "model.ort")
    monkeypatch.setenv(ORT_CONVERT_LEVEL_VARIABLE, "extended")
    (tmp_path / "set").mkdir()
    convert_to_ort(model, tmp_path / "set" / "model.ort")
    assert (tmp_path / "set" / "model.ort").read_bytes() == (tmp_path / "default" / "model.ort").read_bytes()
    assert os.environ[ORT_CONVERT_LEVEL_VARIABLE] == "extended"  # the shell's setting is left as it was
