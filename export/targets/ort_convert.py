"""Convert an .onnx model to .ort in a child process with address-space randomisation off.

Why a child process: onnxruntime 1.31 serialises its kernel-type-string table from absl hash maps, whose
iteration order depends on heap addresses, so the same .onnx converted twice gives differently laid out .ort
files (same outputs; on tiny models even a few hundred bytes of size difference). With ASLR off (Linux
personality ADDR_NO_RANDOMIZE) a fresh process allocates at the same addresses every time, and the bytes repeat.
Where that is not possible (not Linux, or a sandbox that refuses the call) the conversion still runs, only
without the byte-for-byte guarantee; `convert_to_ort` says which happened.

The heap layout also follows everything the child does before converting, so the child sees nothing that
varies with the run or the caller: it starts in a fresh temporary folder (its cwd), on model.onnx and model.ort
there, with only the environment variables that locate the Python install (INSTALL_VARIABLES). It runs this
file as a script, importing nothing of this package: `python -m export.targets.ort_convert` imported the
`export` package first, and once that imported torch (whose threads allocate in their own order) the bytes varied
from call to call. Measured before the temporary folder: all-MiniLM-L6-v2 exported to /tmp/minilm2 and to
/tmp/minilm-longer-name gave .ort files of equal size whose op-kernel tables differed in order.

    python -P export/targets/ort_convert.py MODEL.onnx OUT.ort [--keep-constants]   (what convert_to_ort runs, in a
    temporary folder)
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ADDR_NO_RANDOMIZE = 0x0040000
_QUERY_PERSONALITY = 0xFFFFFFFF
_ASLR_OFF_MARK = "BERT_EDGE_ASLR_OFF"
INSTALL_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH")  # all the child takes from the caller's environment
# -P: the script's folder is not put on sys.path (it holds onnx.py, which would hide the onnx package)
CHILD = [sys.executable, "-P", str(Path(__file__).resolve())]
KEEP_CONSTANTS = "--keep-constants"


def convert_to_ort(onnx_model: Path, ort_path: Path, fold_constants: bool = True) -> bool:
    """Returns True when the conversion ran with ASLR off, i.e. its bytes are reproducible. `fold_constants=False`
    keeps a subgraph that reads no input as it is (ORT's own conversion would store its result instead): for a
    model run once, whose whole point is to compute its outputs from smaller stored tensors."""
    env = {k: os.environ[k] for k in INSTALL_VARIABLES if k in os.environ}
    with tempfile.TemporaryDirectory(prefix="bert-edge-ort-") as work:
        shutil.copyfile(onnx_model, Path(work) / "model.onnx")
        keep = [] if fold_constants else [KEEP_CONSTANTS]
        result = subprocess.run(
            [*CHILD, "model.onnx", "model.ort", *keep], cwd=work, capture_output=True, text=True, env=env,
        )  # fmt: skip
        if result.returncode != 0:
            last_line = (result.stderr.strip().splitlines() or ["no error output"])[-1]
            raise RuntimeError(f"ORT conversion failed: {last_line}")
        shutil.move(Path(work) / "model.ort", ort_path)
    return result.stdout.strip() == "reproducible"


def _restart_without_aslr() -> None:
    """Re-exec this process with ASLR off; returns only if that is not possible."""
    if sys.platform != "linux" or os.environ.get(_ASLR_OFF_MARK):
        return
    try:
        personality = ctypes.CDLL(None, use_errno=True).personality
        current = personality(_QUERY_PERSONALITY)
        if current == -1 or personality(current | ADDR_NO_RANDOMIZE) == -1:
            return
    except (OSError, AttributeError):
        return
    os.execve(sys.executable, [*CHILD, *sys.argv[1:]], {**os.environ, _ASLR_OFF_MARK: "1"})


def _convert_keeping_constants(onnx_model: Path, ort_path: Path) -> None:
    """In the child: basic optimisations without constant folding, saved in ORT format (the converter script has
    no switch for that)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(ort_path)
    options.add_session_config_entry("session.save_model_format", "ORT")
    options.log_severity_level = 3
    ort.InferenceSession(str(onnx_model), options, providers=["CPUExecutionProvider"],
                         disabled_optimizers=["ConstantFolding"])  # fmt: skip


def _convert(onnx_model: Path, ort_path: Path) -> None:
    """In the child, in its temporary folder: model.onnx → out/model.ort → ort_path."""
    # onnxruntime.tools' __init__ imports torch whenever importlib finds it, for a helper the converter never
    # calls: a second of a two-second conversion. A None entry in sys.modules makes find_spec report it missing.
    sys.modules["torch"] = None
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints a line per step
        convert_onnx_models_to_ort(
            onnx_model.resolve(), output_dir=Path("out").resolve(), optimization_styles=[OptimizationStyle.Fixed],
            target_platform="arm",
        )  # fmt: skip
    shutil.move(Path("out") / onnx_model.with_suffix(".ort").name, ort_path)


if __name__ == "__main__":
    _restart_without_aslr()
    convert = _convert_keeping_constants if KEEP_CONSTANTS in sys.argv[3:] else _convert
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
    print("reproducible" if os.environ.get(_ASLR_OFF_MARK) else "not-reproducible")
