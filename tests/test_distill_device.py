"""Where --distill trains: the CPU, or a CUDA GPU when one is there (`--distill-device`, default auto).

The CUDA tests run only where torch sees a GPU (never in CI); what they showed on one is in docs/distillation.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_cli_errors import assert_refused, run_cli
from test_distill import LONG, distil_tiny_classifier
from test_tiny_exports import export
from transformers import AutoModelForSequenceClassification

from export import UserInputError
from export.distill import training_device

PASSAGES = [LONG.format(i) for i in range(24)]
CALIBRATION_TEXT = Path(__file__).resolve().parents[1] / "export" / "data" / "calibration.txt"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU")


def test_auto_takes_the_gpu_only_when_there_is_one():
    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserInputError, match="--distill-device must be one of auto, cpu, cuda"):
        training_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there")
def test_asking_for_a_gpu_that_is_not_there_is_refused_before_anything_is_built(capsys, tmp_path):
    passages = "".join(f"passage {i} of unlabelled text that is long enough to be used\n" for i in range(8))
    (tmp_path / "text.txt").write_text(passages)
    code, err = run_cli(capsys, "bert", "--distill", str(tmp_path / "text.txt"), "--distill-device", "cuda",
                        "--out", str(tmp_path / "b"))  # fmt: skip
    assert_refused(code, err, "--distill-device cuda: this torch sees no CUDA GPU")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("device", ["cpu", "auto"])  # auto, the default, was taken for the flag left out
def test_a_device_without_distillation_is_refused(capsys, tmp_path, device):
    code, err = run_cli(capsys, "bert", "--distill-device", device, "--out", str(tmp_path / "b"))
    assert_refused(code, err, "--distill-device says where --distill trains")


def _distilled(checkpoint: Path, device: str, dropout: float, seed: int = 0):
    return distil_tiny_classifier(
        checkpoint, seed, PASSAGES, device=device, dropout=dropout, learning_rate=1e-3, attention=True
    )


@needs_cuda
def test_training_on_the_gpu_is_training_on_the_cpu_up_to_rounding(tiny_checkpoint):
    """Dropout off, so the two differ only by float rounding: after 6 steps every trained weight agrees to 1e-4
    while training moved them by more than 5e-4 (6 Adam steps warming up to 1e-3; on an H200: 9.4e-4 moved,
    1.4e-5 apart). Both models come back to the CPU, the teacher unchanged."""
    checkpoint = tiny_checkpoint("bert-classifier")
    original = AutoModelForSequenceClassification.from_pretrained(checkpoint).state_dict()
    on_cpu, _, cpu_run = _distilled(checkpoint, "cpu", dropout=0.0)
    on_gpu, teacher, gpu_run = _distilled(checkpoint, "cuda", dropout=0.0)
    assert cpu_run.device == "cpu" and gpu_run.device.startswith("cuda (")
    assert all(t.device.type == "cpu" for t in [*on_gpu.values(), *teacher.values()])
    assert all(torch.equal(teacher[k], original[k]) for k in original)
    moved = max((on_cpu[k] - original[k]).abs().max().item() for k in original if "embeddings.word" not in k)
    apart = max((on_cpu[k] - on_gpu[k]).abs().max().item() for k in original)
    assert moved > 5e-4 and apart < 1e-4, (moved, apart)
    assert abs(gpu_run.held_out_after - cpu_run.held_out_after) < 1e-3 * cpu_run.held_out_before


@needs_cuda
def test_training_on_the_gpu_is_deterministic_for_a_seed(tiny_checkpoint):
    """Dropout on (the GPU's own generator): the same seed gives the same weights, another seed others."""
    checkpoint = tiny_checkpoint("bert-classifier")
    first, again, other = (_distilled(checkpoint, "cuda", 0.3, seed)[0] for seed in (0, 0, 1))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


@needs_cuda
@pytest.mark.parametrize(
    ("embedding", "encoder"), [("lighttoken", "tucker"), ("int8", "lowrank"), ("svd", "int4"), ("int4", "int8")]
)
def test_every_method_trains_on_the_gpu_and_exports_on_the_cpu(
    tmp_path, export_cache, tiny_checkpoint, embedding, encoder
):
    """Each embedding and encoder method's modules move to the GPU and back (buffers, folded cores, grids): the
    export that follows on the CPU is held to what was trained (parity passed)."""
    ratio = {"lighttoken": ["--ratio", "4"], "svd": ["--ratio", "8"], "int4": ["--ratio", "5.6"]}.get(embedding, [])
    flags = ["--embedding", embedding, *ratio, "--encoder", encoder, "--distill", str(CALIBRATION_TEXT),
             "--distill-steps", "20", "--distill-device", "cuda"]  # fmt: skip
    _, report, _ = export(tmp_path, export_cache, tiny_checkpoint("bert-classifier"), "bert", *flags)
    assert report["distill"]["device"].startswith("cuda (")
    assert report["parity"]["passed"] and report["parity"]["export_max_abs_diff"] < 1e-4
