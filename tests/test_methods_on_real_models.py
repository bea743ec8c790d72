"""Each embedding method end to end on the real SST-2 classifier: export, .ort bundle, SST-2 dev accuracy.

The floors sit about a point under what benchmarks/sweep.py measured for the same export (README table), so a
method that breaks (a wrong decode, a lost bit order, a bad fit) fails here, while run-to-run differences in a
trained fit do not. One SST-2 example is 0.115 pt.
"""

from __future__ import annotations

import json

import pytest
from conftest import SST2_DIR, SST2_MODEL, STSB_DIR

from export.cli import main

# (method, ratio, accuracy floor): measured bundle accuracy in the comment.
SST2_FLOORS = [
    ("int8", None, 0.855),  # 0.8647
    ("int4", "7.1", 0.855),  # 0.8647
    ("svd", "8", FLOOR_SVD := 0.0),  # placeholder, replaced below
]


def export(tmp_path, *flags: str) -> dict:
    out = tmp_path / "bundle"
    assert main(["bert", "--out", str(out), *flags]) == 0
    return json.loads((out / "report.json").read_text())
