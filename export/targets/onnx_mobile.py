"""`onnx-mobile`: ORT format (.ort, Fixed optimization style for arm) plus the operator configs a reduced
ORT build needs, and a check of the graph's operators against ORT's legacy minimal mobile package op set. A graph
with a load-time weight decode (int4-as-int8) becomes two files: model.ort and weights.ort (load_time_decode.py).

mobile_package.required_operators.config is copied from the onnxruntime 1.19.2 wheel
(onnxruntime/tools/mobile_helpers/, MIT licence, (c) Microsoft), the last release that shipped it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from .base import Target, TargetBuild
from .load_time_decode import SplitModel, split_load_time_decode
from .ort_convert import convert_to_ort

LEGACY_MOBILE_OPS = Path(__file__).with_name("mobile_package.required_operators.config")
OPS_CONFIG = "required_operators.config"
OPS_AND_TYPES_CONFIG = "required_operators_and_types.config"
WEIGHTS_FILE = "weights.ort"  # a load-time weight decode (load_time_decode.py), run once by the runtime


class OnnxMobileTarget(Target):
    name = "onnx-mobile"
    summary = "model.ort for ONNX Runtime Mobile (Android/iOS), with required-operator configs"
    model_file = "model.ort"

    def write_model(self, onnx_model: Path, path: Path) -> bool:
        return convert_to_ort(onnx_model, path)

    def build(self, onnx_model: Path, bundle_dir: Path, decode_at_load: bool = False) -> TargetBuild:
        split = split_load_time_decode(onnx.load(str(onnx_model))) if decode_at_load else None
        if split is None:
            built = super().build(onnx_model, bundle_dir)
        else:
            built = self.build_split(split, onnx_model.parent, bundle_dir)
        write_operator_configs(bundle_dir, built.model_files)
        built.extra_files = [OPS_CONFIG, OPS_AND_TYPES_CONFIG]
        built.operator_check = check_against_legacy_mobile_ops(bundle_dir / OPS_CONFIG)
        return built

    def build_split(self, split: SplitModel, work: Path, bundle_dir: Path) -> TargetBuild:
        """model.ort without the decode, and weights.ort with it, kept unfolded so the file stays small."""
        main, weights = work / "model-main.onnx", work / "model-weights.onnx"
        onnx.save(split.main, str(main))
        onnx.save(split.weights, str(weights))
        reproducible = convert_to_ort(main, bundle_dir / self.model_file)
        reproducible &= convert_to_ort(weights, bundle_dir / WEIGHTS_FILE, fold_constants=False)
        return TargetBuild(self.model_file, "ort", reproducible=reproducible, weights_file=WEIGHTS_FILE)


def write_operator_configs(bundle_dir: Path, ort_names: list[str]) -> None:
    """Both configs, generated from the .ort files; paths are relative so the files do not depend on the temp
    dir."""
    from onnxruntime.tools.ort_format_model.utils import create_config_from_models

    previous = Path.cwd()
    os.chdir(bundle_dir)
    try:
        models = [Path(name) for name in ort_names]
        create_config_from_models(models, Path(OPS_CONFIG), enable_type_reduction=False)
        create_config_from_models(models, Path(OPS_AND_TYPES_CONFIG), enable_type_reduction=True)
    finally:
        os.chdir(previous)


def read_ops(config_file: Path) -> set[tuple[str, int, str]]:
    """(domain, opset, op) triples from a required-operators config file."""
    ops = set()
    for line in config_file.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        domain, opsets, names = line.split(";")[:3]
        for opset in opsets.split(","):
            ops.update((domain, int(opset), name.split("{")[0]) for name in names.split(","))
    return ops


def check_against_legacy_mobile_ops(required: Path) -> dict[str, Any]:
    """Ops of our model that the legacy mobile package would not have had.

    Our config lists each kernel by the opset it was introduced in (Where@9), the legacy one by the model opsets
    it serves (Where at 12-15). A kernel is covered when the op is listed and its version is not newer than the
    highest listed opset: then it is the kernel in effect at that opset. Operators only: the legacy package also
    reduced data types (float, int8 and uint8 globally, int32/int64 "internally" for index and shape operators, a
    set its config does not list), so int64 Cast or --vocab-rest's int16 row map are not judged here.
    """
    newest: dict[tuple[str, str], int] = {}
    for domain, opset, op in read_ops(LEGACY_MOBILE_OPS):
        newest[(domain, op)] = max(opset, newest.get((domain, op), 0))
    outside = sorted(
        f"{domain}:{op}@{opset}" for domain, opset, op in read_ops(required) if opset > newest.get((domain, op), -1)
    )
    return {
        "op_set": "ORT legacy mobile package (onnxruntime 1.19 mobile_package.required_operators.config)",
        "inside": not outside,
        "outside": outside,
    }
