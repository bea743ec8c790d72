"""--max-drop on the real SST-2 classifier, with a small space and time budget: the chosen bundle is within budget
on the confirmation part, on the whole dev set (scored one text at a time) and smaller than the default bundle."""

from __future__ import annotations

import numpy as np
from conftest import SST2_DIR, SST2_MODEL

import export
from export.budget import Candidate
from export.datasets import read_examples
from export.evaluate import bundle_outputs

# lighttoken 25x with the 4-bit encoder the default space searches, int4-as-int8 (its .ort pair measured over 3
# seeds on the whole dev set: drop −0.61 ± 0.24 pt, worst −0.34 pt, docs/encoder.md), then with the int8 encoder
SPACE = [Candidate(export.LightToken(ratio=25), export.Int4AsInt8()),
         Candidate(export.LightToken(ratio=25), export.Int8Encoder())]  # fmt: skip


def test_a_search_on_sst2_keeps_half_a_point_and_beats_the_default_bundle(tmp_path, sst2_bundle, export_cache):
    """The floors of issue 21 for a search without --distill: the confirmation part's drop ≤ 0.5 pt, the whole dev
    set's ≤ 0.7 pt, the model file no larger than the default bundle's and ≤ 0.35x the baseline's. Broken on
    purpose (candidates visited largest first) the int8-encoder candidate comes first and, within budget, is chosen:
    13.3 MB, and the first assert fails. One seed per candidate keeps it to three exports (the worst-of-seeds rule
    is the tiny tests' and the default's, `seeds=2`)."""
    default = sst2_bundle[1]
    result = export.search("bert", model=str(SST2_MODEL), evaluate=SST2_DIR, max_drop=0.5, space=SPACE, seeds=1,
                           search_minutes=10, out=tmp_path / "bundle", progress=False, cache=export_cache)  # fmt: skip
    search, size = result.report["search"], result.report["size"]
    assert search["chosen"] == SPACE[0].key and search["confirmation"]["drop"] <= 0.5
    assert size["model_bytes"] <= default["size"]["model_bytes"]
    assert size["model_bytes"] <= 0.35 * size["baseline_int8_model_bytes"]
    dev = read_examples(SST2_DIR)
    labels = np.array([int(t) for t in dev.targets])
    accuracy = float((bundle_outputs(result.out, dev.texts).argmax(-1) == labels).mean())
    baseline = default["accuracy"]["baseline_int8"]  # the whole dev set, this machine, this run
    assert 100 * (baseline - accuracy) <= 0.7, (accuracy, baseline)
