"""benchmarks/arm64_selfcheck.sh: bundles' golden self-check on ONNX Runtime's arm64 kernels, under qemu.

The first run downloads qemu-user, an arm64 Python 3.11 root and the aarch64 wheels (about 145 MB) into
~/.cache/bert-edge/arm64 (or $BERT_EDGE_CACHE/arm64); later runs reuse them.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "arm64_selfcheck.sh"
TIMEOUT = 1200  # the first run downloads; emulation is slow

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.machine() != "x86_64",
    reason="emulates arm64 on x86_64 Linux only (on arm64, python -m runtime_py BUNDLE --self-check runs natively)",
)


def arm64_selfcheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)


# --probes 2 took 4 s emulated on the default MiniLM-L6 bundle (2 cores), so the real bundles are in too
@pytest.mark.parametrize("bundle", ["tiny_bundle", "minilm_bundle", "sst2_bundle"])
def test_the_first_two_probes_pass_on_arm64(request, bundle):
    folder = request.getfixturevalue(bundle)[0]
    result = arm64_selfcheck("--probes", "2", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(f"PASS {folder}: arm64 self-check on the first 2 of 12 golden probes: "), line
    cosine = re.search(r"min cosine (\S+) \(needs (\S+)\)", line)
    assert cosine and float(cosine[1]) >= float(cosine[2]), line
    # vs the exporter's x86 outputs: a number (not 0 on arm64's int8 kernels, nor for a subset of the probes)
    vs_export = re.search(r", (\S+) vs the exporter's own run", line)
    assert vs_export and math.isfinite(float(vs_export[1])), line


def test_a_broken_tiny_bundle_fails_the_run_with_one_line_per_bundle(tiny_bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle[0], broken)
    golden = json.loads((broken / "golden.json").read_text())
    for probe in golden["probes"]:
        probe["reference"] = [-v for v in probe["reference"]]
    (broken / "golden.json").write_text(json.dumps(golden))
    manifest = json.loads((broken / "bundle.json").read_text())
    manifest["files"]["golden.json"] = hashlib.sha256((broken / "golden.json").read_bytes()).hexdigest()
    (broken / "bundle.json").write_text(json.dumps(manifest))
    result = arm64_selfcheck("--probes", "1", str(tiny_bundle[0]), str(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    passed, failed = result.stdout.splitlines()
    assert passed.startswith(f"PASS {tiny_bundle[0]}: "), passed
    assert failed.startswith(f"FAIL {broken}: arm64 self-check on the first 1 of 12")
    assert re.search(r"min cosine -(0\.99|1\.00)\d* < ", failed), failed  # the reference negated


@pytest.mark.parametrize(
    "args", [[], ["--probes", "0", "."], ["--probes"], ["--frobnicate", "."], ["no/such/bundle"]], ids=str
)
def test_bad_usage_exits_2_with_one_line(args):
    result = arm64_selfcheck(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
