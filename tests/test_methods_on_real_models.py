"""Each embedding method end to end on a real model: export to .ort with the int8 encoder, then accuracy on the
GLUE dev set as report.json gives it (--evaluate). Floors come from measured figures and their spread:
- int8, int4, svd fit without randomness; their bundles move between CPUs only through the int8 kernels, measured
  as a 0.0017 sd (the int8 bundle with 1e-3 relative noise on its table, 5 draws: docs/lighttoken-fit.md); the
  floors sit 0.7-1.6 pt (4 sd and more) under what this Intel Xeon scored (`python -m export bert --model
  ../shared/models/minilm-l6-sst2 --embedding M --evaluate ../shared/data/glue/SST-2`);
- direction-ae is trained, so a seed is one draw: 3 sd under its 5-seed mean (`python benchmarks/sweep.py
  --methods direction-ae --ratios 8 --models sst2 --seeds 5`);
- lighttoken at 25x, the presets' default: 3 sd over the seeds' mean of its drop against the int8 baseline (SST-2
  10 seeds, STS-B 5).
A method that breaks (a wrong decode, a lost bit order, zeroed codes, a shuffled decoder) lands near 0.5 on SST-2:
lighttoken with its codes zeroed after the fit scored 0.5126, with its decoder rows shuffled 0.4587
(docs/lighttoken-fit.md, "Broken on purpose"). One SST-2 example is 0.115 pt.
"""

from __future__ import annotations

import pytest
from conftest import SST2_DIR, SST2_MODEL, WIKITEXT, export_bundle


def export(tmp_path, cache, *flags: str) -> dict:
    # --no-strict: some lossy points miss the preset's export-parity tolerance on a probe or two with rare
    # tokens (int8 noise on inputs the compressed encoder finds unusual); accuracy is what this file checks.
    _, report = export_bundle(tmp_path, cache, "--no-strict", *flags)
    assert report["parity"]["export_max_abs_diff"] < 1e-4  # the export itself is exact either way
    return report


@pytest.mark.parametrize(
    ("method", "ratio", "floor"),
    [
        ("int8", None, 0.86),  # measured: 0.8716
        ("int4", None, 0.855),  # measured: 0.8624 (block 32)
        ("svd", "8", 0.70),  # measured: 0.7156 (svd on the classifier swings ±1.5 pt with the rank)
        ("direction-ae", "8", 0.6398),  # 5 seeds: 0.6488 ± 0.0030, so 0.6488 - 3 x 0.0030
    ],
)
def test_baseline_methods_keep_their_sst2_accuracy(tmp_path, shared_assets, export_cache, method, ratio, floor):
    flags = ["--embedding", method, *(["--ratio", ratio] if ratio else [])]
    report = export(tmp_path, export_cache, "--model", str(SST2_MODEL), "--evaluate", str(SST2_DIR), *flags)
    accuracy = report["accuracy"]
    assert accuracy["examples"] == 872
    assert accuracy["bundle"] >= floor, accuracy
    if ratio:
        assert abs(report["size"]["embedding_ratio_vs_fp32"] / float(ratio) - 1) <= 0.05


# (mean drop over seeds, its sd) of lighttoken 25x against the int8 baseline (benchmarks/README.md): SST-2 over
# seeds 0-9 (`python benchmarks/sweep.py --methods lighttoken --ratios 25 --models sst2 --seeds 5`, then
# `python -m export bert --model ../shared/models/minilm-l6-sst2 --evaluate ../shared/data/glue/SST-2 --seed S` for
# S = 5..9), STS-B over seeds 0-4 (the same sweep with --models stsb).
MEASURED_25X_DROP = {"sst2_bundle": (-0.0049, 0.0059), "minilm_bundle": (-0.0029, 0.0016)}


@pytest.mark.parametrize("bundle", ["sst2_bundle", "minilm_bundle"])
def test_lighttoken_at_25x_meets_the_floor_against_the_int8_baseline(request, bundle):
    """The presets' default (conftest's bundles are exported with the defaults, seed 0) against the optimum/ORT int8
    baseline of the same run. One seed is one draw, so the bound is three measured sd above the seeds' mean drop:
    SST-2 -0.0049 + 3 x 0.0059 = +0.0128 (10 seeds), STS-B -0.0029 + 3 x 0.0016 = +0.0019 (5 seeds). The issue's
    floors are on the seeds' mean, not on one draw (benchmarks/README.md). The fit is the same on any CPU for a seed;
    only the int8 kernels move the score between CPUs.

    A broken method fails it by far: with the codes zeroed after the fit (LightToken.fit patched to
    `module.codes.zero_()`), or with the decoder's rows shuffled, the bundles score in docs/lighttoken-fit.md's
    "broken" table, every drop far above the bound."""
    report = request.getfixturevalue(bundle)[1]
    assert report["embedding"]["method"] == "lighttoken"
    accuracy, size = report["accuracy"], report["size"]
    mean, sd = MEASURED_25X_DROP[bundle]
    assert accuracy["baseline_int8"] - accuracy["bundle"] <= mean + 3 * sd, accuracy
    assert size["embedding_ratio_vs_fp32"] >= 25 * 0.95
    assert size["model_bytes"] < 0.6 * size["baseline_int8_model_bytes"]


# 20 steps on WikiText-2, seeds 0-2 (AMD EPYC, 2026-12-07, each passage read once): the last training batch's loss
# over the first's 0.834 0.785 0.763 (mean 0.794, sd 0.036; two different batches, so it moves with the draw), the
# held-out loss after over before 0.706 0.634 0.730 (mean 0.690, sd 0.050). Each bound is 3 sd over the mean.
# Training broken (--distill-lr 1e-12, seed 0): 0.987 and 1.000, failing both.
BATCH_LOSS_RATIO, HELD_OUT_LOSS_RATIO = 0.90, 0.85


def test_a_short_distillation_brings_the_encoder_closer_to_the_original(tmp_path, shared_assets, export_cache):
    # 20 steps (about 30 s) of the default 300, on WikiText-2: the student's distance to the original model on
    # passages it never trained on must shrink. (What 300 steps do to SST-2 accuracy: README, issue notes.)
    flags = ["--model", str(SST2_MODEL), "--embedding", "lighttoken", "--ratio", "50"]
    run = export(tmp_path, export_cache, *flags, "--distill", str(WIKITEXT), "--distill-steps", "20")["distill"]
    assert run["final_loss"] < BATCH_LOSS_RATIO * run["first_loss"], run
    assert run["held_out_loss_after"] < HELD_OUT_LOSS_RATIO * run["held_out_loss_before"], run
