"""Replay golden.json: the probes through this runtime's tokenizer and model, against the stored outputs.

Pass/fail is the exporter's own verdict, with the bundle's tolerance: the outputs, one probe at a time and in
one padded batch, against `reference` (fp32 PyTorch with the bundle's embedding), by min cosine and, for
classifiers, top-1 agreement (both over the probes the reference has decided, parity.decided_rows); and the
token ids against the stored ones, exactly. The difference to the exporter's own ORT outputs (`bundle`) is
reported too: zero on the machine that exported, small elsewhere.

probes=N replays only the first N probes (emulated CPUs are slow: benchmarks/arm64_selfcheck.sh). Their padded
batch is then not the exporter's batch of all probes, and ORT's dynamic int8 quantizes each call with one range
over the whole batch, so the difference to the exporter's outputs is not zero even on the machine that exported.
A one-output model (a cross-encoder's score) is held to the concordance of its scores across all the probes, a
measure of the whole set (one probe has no spread to agree on), so a subset is refused for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arguments import count_at_least
from .manifest import BundleError, strict_json
from .parity import agreement
from .text import check_unicode


@dataclass
class SelfCheck:
    probes: int  # how many were replayed: the first `probes` of golden.json's
    golden_probes: int  # how many golden.json holds
    token_id_mismatches: list  # probe texts (or pairs) whose ids differ from golden.json's
    min_cosine: float  # a one-output model's: its scores' concordance (measure says which)
    max_abs_diff: float  # against the fp32 reference
    top1_agreement: float | None
    max_abs_diff_vs_export: float  # against the exporter's own outputs of the padded batch
    min_cosine_required: float
    top1_required: float
    measure: str  # what min_cosine is, in messages (parity.Agreement.measure)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def run_self_check(bundle, probes: int | None = None) -> SelfCheck:
    """Replay golden.json's probes, or only its first `probes` (None: all of them)."""
    if probes is not None:
        probes = count_at_least(probes, "probes", 1)
    path = bundle.manifest.folder / "golden.json"
    if "golden.json" not in bundle.manifest.files:  # its sha256, checked at load, is what makes the replay a check
        raise BundleError(f"{path.parent / 'bundle.json'}: golden.json is not listed in files with its sha256")
    golden = _read_probes(path)
    references = _outputs_of(golden, "reference", path)
    if probes is not None and probes > len(golden):
        raise BundleError(f"golden.json holds {len(golden)} probes; probes={probes} asks for more")
    if probes is not None and probes < len(golden) and references.shape[-1] == 1:
        raise BundleError(f"a one-output model is checked by the concordance of its scores across all "
                          f"{len(golden)} probes: replay them all (no probes=, no --probes)")  # fmt: skip
    probes = golden[:probes]
    items = [(p["text"], p["text_pair"]) if "text_pair" in p else p["text"] for p in probes]
    reference, exported = references[: len(probes)], _outputs_of(probes, "bundle", path)
    mismatches = _token_mismatches(bundle.encoder, items, probes)
    batched = bundle.outputs(items, batch_size=len(items))
    if batched.shape != reference.shape or exported.shape != reference.shape:
        raise BundleError(f"{path}: stored outputs of shape {reference.shape} and {exported.shape}, the model gives "
                          f"{batched.shape}")  # fmt: skip
    alone = bundle.outputs(items, batch_size=1)
    manifest = bundle.manifest
    agreed = agreement(np.concatenate([batched, alone]), np.concatenate([reference, reference]), manifest.is_classifier)
    check = SelfCheck(
        probes=len(probes),
        golden_probes=len(golden),
        token_id_mismatches=mismatches,
        min_cosine=agreed.min_cosine,
        max_abs_diff=agreed.max_abs_diff,
        top1_agreement=agreed.top1_agreement,
        max_abs_diff_vs_export=float(np.abs(batched - exported).max()),
        min_cosine_required=manifest.min_cosine,
        top1_required=manifest.min_top1_agreement,
        measure=agreed.measure,
    )
    if mismatches:
        check.failures.append(f"token ids differ from golden.json on {len(mismatches)} probe(s): {mismatches[0]!r}")
    check.failures += agreed.failures(manifest.min_cosine, manifest.min_top1_agreement)
    return check


def _token_mismatches(encoder, items: list, probes: list[dict]) -> list:
    """The probes whose token ids (and, where golden.json has them, token types) differ from the stored ones."""
    return [
        item
        for item, (ids, types), p in zip(items, encoder.tokens(items), probes, strict=True)
        if ids != p["input_ids"] or ("token_type_ids" in p and types != p["token_type_ids"])
    ]


PROBE_FIELDS = ("text", "input_ids", "reference", "bundle")  # what every golden.json probe holds


def _read_probes(path) -> list[dict]:
    try:
        probes = strict_json(path.read_text(encoding="utf-8"))["probes"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BundleError(f"cannot read the probes in {path}: {err}") from None
    except RecursionError:
        raise BundleError(f"cannot read the probes in {path}: nested too deeply") from None
    if not isinstance(probes, list) or not probes:
        raise BundleError(f"{path} holds no probes")
    for number, probe in enumerate(probes):
        missing = [name for name in PROBE_FIELDS if not isinstance(probe, dict) or name not in probe]
        if missing:
            raise BundleError(f"{path}: probe {number} has no {', '.join(missing)}")
        texts = [probe["text"], probe["text_pair"]] if "text_pair" in probe else [probe["text"]]
        if not all(isinstance(text, str) for text in texts):
            raise BundleError(f"{path}: probe {number}'s text is not a string")
        try:
            check_unicode(texts)
        except ValueError as err:
            raise BundleError(f"{path}: probe {number}: {err}") from None
    return probes


def _outputs_of(probes: list[dict], key: str, path) -> np.ndarray:
    """The probes' stored outputs under `key` as one [probes, outputs] array."""
    try:
        rows = np.array([p[key] for p in probes], dtype=np.float64)
    except (TypeError, ValueError):
        rows = None
    if rows is None or rows.ndim != 2 or not np.isfinite(rows).all():
        raise BundleError(f"{path}: the probes' {key} outputs are not rows of finite numbers of one length")
    return rows
