"""`--max-drop D` / `export.search(...)`: the smallest (or fastest) bundle whose accuracy drop against the
optimum/ORT int8 baseline stays within D points on the user's own labelled data.

The data is split in two (split.py); candidates (space.py) are exported and ranked on one part (run.py) with
their results kept on disk as they finish (store.py), so an interrupted search resumes; the chosen one is exported
again on the other part, which must confirm it is within D too, and published with every candidate in its
report. Work files live in `.NAME.search` beside the output folder, removed once the bundle is published.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from runtime_py.manifest import sha256

from .. import bundle, report
from ..cache import Cache, contents_digest
from ..config import ExportConfig, expanded
from ..encoder import encoder_of, linear_layers
from ..errors import ParityError, UserInputError
from ..typed_fields import check_field_types
from .run import (
    FAILED_CONFIRMATION,
    SKIPPED,
    WITHIN_BUDGET,
    Measured,
    Search,
    SearchSettings,
    candidate_config,
    drop_points,
    latency_tokens,
)
from .space import Candidate, default_space, estimated_bytes
from .split import SPLIT_SEED, Split, split_labelled_set
from .store import ResultStore

OBJECTIVES = ("size", "latency")
# 2: every result row has its p50_ms; 3: a one-output model's parity is its concordance. A store of another format
# is not reused
RESULTS_FORMAT = 3


class NothingWithinBudget(ParityError):
    """No candidate kept the drop within --max-drop: exit code 1, nothing written unless --no-strict."""


def check_settings(settings: SearchSettings) -> None:
    check_field_types(settings, "search")
    if not (math.isfinite(settings.max_drop) and settings.max_drop >= 0):
        raise UserInputError(f"--max-drop must be a number of points, 0 or more (got {settings.max_drop})")
    if settings.objective not in OBJECTIVES:
        raise UserInputError(f"--objective must be one of {', '.join(OBJECTIVES)} (got {settings.objective})")
    if not (math.isfinite(settings.minutes) and settings.minutes > 0):
        raise UserInputError(f"--search-minutes must be more than 0 (got {settings.minutes})")
    if settings.seeds < 1:
        raise UserInputError(f"seeds must be at least 1 (got {settings.seeds})")


def run_search(
    base: ExportConfig,
    settings: SearchSettings,
    console: Console,
    cache: Cache,
    space: list[Candidate] | None = None,
) -> dict[str, Any]:
    """Search, publish the chosen bundle at base.out, return its report.json content (with a "search" section)."""
    from .. import pipeline
    from ..datasets import read_examples
    from ..load import load

    base = pipeline.check_config(base)
    if base.evaluate is None:
        raise UserInputError("--max-drop needs --evaluate DATA: the budget is measured on the user's labelled data")
    check_settings(settings)
    examples = read_examples(base.evaluate)
    planned = split_labelled_set(base.evaluate, stratified=not examples.layout.scored)
    space = default_space(base.vocab.text is not None, base.distill.text is not None) if space is None else space
    _check_space(space, base)
    # before the work folder: a checkpoint that cannot load, or data it cannot score (a label it does not have,
    # pairs for a single-text classifier), leaves nothing behind and is not every candidate's error
    loaded = load(base, pairs=examples.pairs)
    loaded.task.labelled_set(examples, loaded.labels)
    work = base.out.parent / f".{base.out.name}.search"
    try:
        store = ResultStore(work, fingerprint(base, settings))
    except OSError as err:
        raise UserInputError(f"cannot write the search's work folder {work}: {err.strerror or err}") from None
    split = planned.write(work / "split")
    quiet = Console(quiet=True)
    search = Search(base, settings, split, store, work, lambda c, k: pipeline.run(c, quiet, k), cache, console)
    console.print(f"search: {len(split.search_rows)} texts rank candidates, {len(split.confirm_rows)} confirm the "
                  f"choice; budget {settings.max_drop:g} pt, {settings.minutes:g} min", highlight=False)  # fmt: skip
    ordered = _ordered(space, loaded, base, settings.objective)
    while True:
        chosen = search.explore(ordered)
        if chosen is None:
            return _nothing_within_budget(search, ordered)
        confirmation, final, confirmed = _confirm(search, chosen)
        if _confirmed(confirmation, settings):
            break
        chosen.status = FAILED_CONFIRMATION
        console.print(f"  {chosen.candidate.key}: {confirmation['drop']:+.2f} pt on the confirmation part, over "
                      "budget; searching on", highlight=False)  # fmt: skip
    searched = _report(settings, ordered, chosen, split, confirmation, _timed_tokens(confirmed))
    return _publish(search, final, confirmed, searched)


def _check_space(space: list[Candidate], base: ExportConfig) -> None:
    if not isinstance(space, (list, tuple)) or not space or not all(isinstance(c, Candidate) for c in space):
        raise UserInputError("space must be a non-empty list of export.budget.Candidate")
    keys = [candidate.key for candidate in space]
    if len(set(keys)) < len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise UserInputError(f"space names candidate {twice} twice")
    for candidate in space:
        if (candidate.vocab and base.vocab.text is None) or (candidate.distill and base.distill.text is None):
            raise UserInputError(f"candidate {candidate.key} needs the text it names (pass vocab= / distill=)")


def _confirm(search: Search, chosen: Measured) -> tuple[dict[str, Any], Path, dict[str, Any]]:
    """Export the chosen candidate (its best seed on the search part) again, scored on the confirmation part:
    (the confirmation's row, the bundle's folder, its report)."""
    seed = chosen.best_seed["seed"]
    final = search.work / "final"
    config = candidate_config(search.base, chosen.candidate, seed, search.split.confirm, final)
    search.console.print(f"  confirming {chosen.candidate.key} (seed {seed}) on the other part …", highlight=False)
    result = search.run_export(config, search.cache)
    accuracy = result["accuracy"]
    return {"seed": seed, "score": accuracy["bundle"], "baseline": accuracy["baseline_int8"],
            "drop": drop_points(accuracy), "examples": accuracy["examples"],
            "parity_passed": result["parity"]["passed"]}, final, result  # fmt: skip


def _confirmed(confirmation: dict[str, Any], settings: SearchSettings) -> bool:
    """The pick held on the confirmation part: within the budget, and its export's parity passed."""
    return confirmation["drop"] <= settings.max_drop and confirmation["parity_passed"]


def _nothing_within_budget(search: Search, ordered: list[Measured]) -> dict[str, Any]:
    tried = [m for m in ordered if m.measured_whole]
    if not tried:
        failed = [m for m in ordered if m.status.startswith(SKIPPED)]  # each an export's refusal
        if failed and not any(m.status == "not tried" for m in ordered):
            first = failed[0]
            others = f" ({len(failed) - 1} more, each with its error above)" if len(failed) > 1 else ""
            shutil.rmtree(search.work, ignore_errors=True)  # bad input writes nothing: a rerun would fail alike
            raise UserInputError(f"no candidate could be exported: {first.candidate.key}: "
                                 f"{first.status.removeprefix(SKIPPED)}{others}")  # fmt: skip
        raise NothingWithinBudget("no candidate could be measured within --search-minutes")
    closest = min(tried, key=lambda m: m.worst_drop)
    confirmed = "" if all(m.status != FAILED_CONFIRMATION for m in ordered) else " and then on the confirmation part"
    message = (f"no candidate keeps the drop within {search.settings.max_drop:g} pt on the search part{confirmed} "
               f"(closest on the search part: {closest.candidate.key}, {closest.worst_drop:+.2f} pt)")  # fmt: skip
    if search.base.strict:
        raise NothingWithinBudget(message + "; --no-strict writes the closest anyway")
    search.console.print(f"[yellow]warning:[/] {message}; writing it (--no-strict)", highlight=False)
    confirmation, final, confirmed = _confirm(search, closest)
    searched = _report(search.settings, ordered, closest, search.split, confirmation, _timed_tokens(confirmed))
    return _publish(search, final, confirmed, searched)


def _ordered(space: list[Candidate], loaded, base: ExportConfig, objective: str) -> list[Measured]:
    """Candidates by estimated stored bytes; for latency, int8 encoders first (a 4-bit encoder runs at int8's speed
    only as int4-as-int8; MatMulNBits' int4 is 2.2–2.8x slower on x86, docs/encoder.md), so that a fast pick early
    rules out the slower encoders unexported."""
    table = loaded.model.get_input_embeddings().weight
    weights = sum(layer.weight.numel() for layer in linear_layers(encoder_of(loaded.model)).values())
    kept = _kept_share(loaded, base) if any(c.vocab for c in space) else 1.0
    rest = base.vocab.rest
    measured = [Measured(c, estimated_bytes(c, table.numel(), weights, kept, rest)) for c in space]
    if objective == "latency":
        return sorted(measured, key=lambda m: (m.candidate.encoder.name != "int8", m.estimated_bytes))
    return sorted(measured, key=lambda m: m.estimated_bytes)


def _kept_share(loaded, base: ExportConfig) -> float:
    from ..datasets import read_texts
    from ..vocab import kept_ids

    rows = loaded.model.get_input_embeddings().num_embeddings
    texts = read_texts(base.vocab.text, "vocabulary text")
    return len(kept_ids(loaded.tokenizer, texts, base.vocab.min_count, rows, base.vocab.common).kept_ids) / rows


def fingerprint(base: ExportConfig, settings: SearchSettings) -> dict[str, Any]:
    """What a stored result depends on (not the budget or the time: a resumed search may change those), the
    contents of the files it read included: a checkpoint or data edited in place is not the same search; so is
    one run with another version of this tool or of the libraries that build and score the bundles."""
    from ..bundle import tool_versions

    read = {"checkpoint": base.checkpoint, "evaluate": base.evaluate, "vocab": base.vocab.text,
            "distill": base.distill.text}  # fmt: skip
    settings_read = base.to_json(task=base.task or "")
    # a path spelt another way (relative, absolute, ~) is the same search: its files are where the contents say
    where = {name: _where(path) for name, path in read.items()}
    return {**settings_read, "out": None, "embedding": None, "encoder": None,
            "seed": None, "strict": None, "seeds": settings.seeds, "results_format": RESULTS_FORMAT,
            "tools": tool_versions(), "code": code_digest(), "checkpoint": where["checkpoint"],
            "evaluate": where["evaluate"], "vocab": {**settings_read["vocab"], "text": where["vocab"]},
            "distill": {**settings_read["distill"], "text": where["distill"]},
            "contents": {name: contents_digest(path) for name, path in read.items()}}  # fmt: skip


def _where(path: str | Path | None) -> str | None:
    """A local path as the absolute one it names; a hub name (nothing here by that name) as it is."""
    if path is None:
        return None
    local = expanded(path)
    return str(local.resolve()) if local.exists() else str(path)


def code_digest() -> str:
    """sha256 over this tool's own sources (export, its presets and runtime_py: names and contents): a search
    resumed after the code changed (a development install between two commits, whose version stays the same)
    does not reuse results the old code measured."""
    import runtime_py

    from .. import model_presets

    listing = []
    for package in (Path(__file__).parents[1], Path(model_presets.__file__).parent, Path(runtime_py.__file__).parent):
        for file in sorted([*package.rglob("*.py"), *package.glob("*.toml")]):
            listing.append(f"{package.name}/{file.relative_to(package).as_posix()}\0{sha256(file)}\n")
    return hashlib.sha256("".join(listing).encode()).hexdigest()


def _report(settings: SearchSettings, ordered: list[Measured], chosen: Measured, split: Split,
            confirmation: dict[str, Any], tokens: int) -> dict[str, Any]:  # fmt: skip
    return {
        "max_drop": settings.max_drop,
        "objective": settings.objective,
        "minutes": settings.minutes,
        "seeds": settings.seeds,
        "split": {"search": len(split.search_rows), "confirm": len(split.confirm_rows), "seed": SPLIT_SEED},
        "chosen": chosen.candidate.key,
        # False: nothing kept the drop within the budget (both parts, parity passed); --no-strict wrote the closest
        "within_budget": chosen.status == WITHIN_BUDGET and _confirmed(confirmation, settings),
        "confirmation": confirmation,
        # picks the confirmation part judged, this one included: past 1 it has shaped the choice, so its figure
        # for the chosen one leans in its favour
        "confirmations": 1 + sum(m.status == FAILED_CONFIRMATION and m is not chosen for m in ordered),
        "latency_tokens": tokens,  # the length p50_ms timed
        "candidates": [m.to_json() for m in ordered],
    }


def _timed_tokens(result: dict[str, Any]) -> int:
    """The sequence length p50_ms timed the bundles at, from an export's report (the checkpoint may read fewer
    than LATENCY_TOKENS: its config's max_length is the length the bundle reads)."""
    return latency_tokens(result["config"]["max_length"])


def _publish(search: Search, final: Path, result: dict[str, Any], searched: dict[str, Any]) -> dict[str, Any]:
    """Move the confirmed bundle into place with the search recorded in its reports (`result`: its report as the
    export returned it; report.json, read back, holds null for a figure that is not a number), remove the work
    folder and print the summary."""
    # the user's data, not the confirmation half's file in the work folder removed below (the accuracy section's
    # dataset names the half it scored)
    result["config"]["evaluate"] = str(search.base.evaluate)
    result["search"] = searched
    report.write_reports(final, result)
    bundle.publish(final, search.base.out, search.base.force)
    shutil.rmtree(search.work, ignore_errors=True)
    report.print_summary(search.console, result, search.base.out)
    return result


__all__ = ["OBJECTIVES", "Candidate", "NothingWithinBudget", "SearchSettings", "default_space", "run_search"]
