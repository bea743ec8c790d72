"""Each embedding method end to end on a real model: export to .ort with the int8 encoder, then accuracy on the
GLUE dev set as report.json gives it (--evaluate). Floors sit under the measured figures (`python -m export bert
--model ... --embedding M --evaluate ...`): a point under for int8/int4, more for svd and direction-ae at 8x, whose
classifier accuracy swings by ±1.5 pt from one rank to the next (a throwaway check, not in the repo: SST-2 with fp32
PyTorch, svd rank 94/98/102: 0.7385/0.7225/0.7408). A method that breaks (a wrong decode, a lost bit order, a bad
fit) lands near 0.5.
lighttoken at 25x, the presets' default, is held to the issue's own floor against the int8 baseline.
One SST-2 example is 0.115 pt.
"""

from __future__ import annotations

import json

import pytest
from conftest import SST2_DIR, SST2_MODEL, WIKITEXT

from export.cli import main


def export(tmp_path, *flags: str) -> dict:
    out = tmp_path / "bundle"
    # --no-strict: some lossy points miss the preset's export-parity tolerance on a probe or two with rare
    # tokens (int8 noise on inputs the compressed encoder finds unusual); accuracy is what this file checks.
    assert main(["bert", "--out", str(out), "--no-strict", *flags]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["parity"]["export_max_abs_diff"] < 1e-4  # the export itself is exact either way
    return report


@pytest.mark.parametrize(
    ("method", "ratio", "floor"),
    [
        ("int8", None, 0.86),  # measured: 0.8716
        ("int4", None, 0.855),  # measured: 0.8658 (block 32)
        ("svd", "8", 0.70),  # measured: 0.7156 (svd on the classifier swings ±1.5 pt with the rank)
        ("direction-ae", "8", 0.62),  # measured: 0.6468 (swings like svd)
    ],
)
def test_baseline_methods_keep_their_sst2_accuracy(tmp_path, shared_assets, method, ratio, floor):
    flags = ["--embedding", method, *(["--ratio", ratio] if ratio else [])]
    report = export(tmp_path, "--model", str(SST2_MODEL), "--evaluate", str(SST2_DIR), *flags)
    accuracy = report["accuracy"]
    assert accuracy["examples"] == 872
    assert accuracy["bundle"] >= floor, accuracy
    if ratio:
        assert abs(report["size"]["embedding_ratio_vs_fp32"] / float(ratio) - 1) <= 0.05


@pytest.mark.parametrize("bundle", ["sst2_bundle", "minilm_bundle"])
def test_lighttoken_at_25x_meets_the_floor_against_the_int8_baseline(request, bundle):
    # The presets' default is this method at this ratio (conftest's bundles are built with the defaults).
    # Issue floor at >= 25x: SST-2 drop <= 0.3 pt, STS-B drop <= 0.003. Sweep: SST-2 0.8716 vs 0.8624 (-0.92 pt),
    # STS-B 0.8668 vs 0.8634.
    report = request.getfixturevalue(bundle)[1]
    assert report["embedding"]["method"] == "lighttoken"
    accuracy, size = report["accuracy"], report["size"]
    assert accuracy["baseline_int8"] - accuracy["bundle"] <= 0.003, accuracy
    assert size["embedding_ratio_vs_fp32"] >= 25 * 0.95
    assert size["model_bytes"] < 0.6 * size["baseline_int8_model_bytes"]


def test_a_short_distillation_brings_the_encoder_closer_to_the_original(tmp_path, shared_assets):
    # 20 steps (about 30 s) of the default 300, on WikiText-2: the student's distance to the original model on
    # passages it never trained on must shrink. (What 300 steps do to SST-2 accuracy: README, issue notes.)
    flags = ["--model", str(SST2_MODEL), "--embedding", "lighttoken", "--ratio", "50"]
    run = export(tmp_path, *flags, "--distill", str(WIKITEXT), "--distill-steps", "20")["distill"]
    assert run["final_loss"] < 0.8 * run["first_loss"]
    assert run["held_out_loss_after"] < 0.85 * run["held_out_loss_before"]
