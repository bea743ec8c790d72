"""--max-drop on the real all-MiniLM-L6-v2 embedder (issue 21's floor for a search without --distill), with a small
space and time budget: the chosen bundle is within budget on the confirmation part, on the whole dev set (scored
one text at a time) and smaller than the default bundle."""

from __future__ import annotations

from conftest import STSB_DIR

import export
from export.budget import Candidate
from export.evaluate import bundle_outputs
from export.tasks import load_set

# lighttoken 25x with the 4-bit encoder the default space searches, int4-as-int8, then with the int8 encoder
SPACE = [Candidate(export.LightToken(ratio=25), export.Int4AsInt8()),
         Candidate(export.LightToken(ratio=25), export.Int8Encoder())]  # fmt: skip


def test_a_search_on_stsb_keeps_half_a_point_and_beats_the_default_bundle(tmp_path, minilm_bundle, export_cache):
    """The floors of issue 21 for all-MiniLM-L6-v2 on STS-B (no --distill): the confirmation part's drop ≤ 0.5 pt
    (0.005 Spearman), the whole dev set's ≤ 0.7 pt, the model file no larger than the default bundle's and ≤ 0.35x
    the baseline's. Measured (AMD EPYC without AVX-512, the 7-bit decode): the 4-bit candidate, seed 0, −0.29 pt on
    the search part, −0.63 pt on the confirmation part, −0.50 pt on the whole dev set, 7.84 MB (with the uint8
    decode before it −0.39 and −0.30). That is 1.1 pt inside the budget; this table and encoder spread by
    0.17 pt (sd over seeds on the whole dev set, the `.onnx` form, docs/encoder.md; more on a half). Broken on
    purpose (candidates visited largest first) the int8-encoder candidate comes first and, within budget, is
    chosen: 13.1 MB, and the first assert fails. One seed per candidate keeps it to two exports (the
    worst-of-seeds rule is the tiny tests' and the default's, `seeds=2`). This test searched SST-2 without
    --distill until the 4-bit weights were summed exactly: then (the uint8 decode) seed 0's 4-bit SST-2 candidate
    was +0.69 pt on the confirmation half, and it had passed on x86 without VNNI only through ORT's saturating int8
    kernel (docs/search.md; with the 7-bit decode +0.23 pt)."""
    default = minilm_bundle[1]
    result = export.search("bert", evaluate=STSB_DIR, max_drop=0.5, space=SPACE, seeds=1, search_minutes=10,
                           out=tmp_path / "bundle", progress=False, cache=export_cache)  # fmt: skip
    search, size = result.report["search"], result.report["size"]
    assert search["chosen"] == SPACE[0].key and search["confirmation"]["drop"] <= 0.5
    assert size["model_bytes"] <= default["size"]["model_bytes"]
    assert size["model_bytes"] <= 0.35 * size["baseline_int8_model_bytes"]
    dev = load_set(STSB_DIR, "feature-extraction")
    spearman = dev.score(bundle_outputs(result.out, dev.texts))
    baseline = default["accuracy"]["baseline_int8"]  # the whole dev set, this machine, this run
    assert 100 * (baseline - spearman) <= 0.7, (spearman, baseline)
