"""The search loop: visit candidates in order (space.py), export each on the search part of the labelled set
(every seed of a stochastic fit, stopping at the first over budget: the worst counts) and time it; the caller
confirms the pick on the other part. The size objective stops at the first candidate within budget (they come
smallest first). The latency objective goes on, since a smaller candidate is not a faster one: the pick is the
fastest within budget, candidates within LATENCY_TIE of it counting as equally fast and the smallest of those
winning; a candidate is not exported when its encoder has already been timed (with another table) far slower than
the pick: the encoder sets most of a call's time, the token table's lookup (a gather, or unpacking one row per
token) little of it.

Every candidate is a full export through pipeline.run (the same stages, the same cache of the baseline, the fp32
model's scores and the evaluation data), so its drop is exactly what the shipped bundle does, scored one text at a
time. Drops are in points (the metric ×100, positive = worse than the optimum/ORT int8 baseline)."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import median
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..cache import Cache
from ..config import DistillConfig, ExportConfig, VocabConfig
from ..errors import ParityError, UserInputError
from ..typed_fields import plain_fields
from .space import Candidate
from .split import Split
from .store import ResultStore

LATENCY_TOKENS = 128  # the sequence length the latency objective times (or the bundle's max length, if shorter)
LATENCY_RUNS = 30  # timed calls after runtime_py.bench's warm-up, one thread: a p50 that moves by a few percent
LATENCY_TIE = 0.10  # p50s this close to the fastest count as equally fast: sequential timings move by up to ±10%
# A candidate is not exported when its encoder, with another table, timed over this much the pick's p50: the table
# moves a call by about 12% (lighttoken 100x against 25x with the int8 encoder: 7.5 against 8.4 ms), int4 by 2.8x
SLOWER_ENCODER = 1.25

WITHIN_BUDGET = "within budget"  # on the search part (and a pick's confirmation decides the rest)
NOT_NEEDED = "not needed"  # the latency objective's skips: looked at again if the pick fails its confirmation
OVER_BUDGET = "over budget"  # on the search part: rules out the candidates that compress at least as hard
FAILED_CONFIRMATION = "over budget on the confirmation part"  # rules out nothing: no choice may see that part
TIME_UP = "time up"  # measure()'s answer when a seed would need an export after the deadline
SKIPPED = "skipped: "  # followed by why: an export's error, or the candidate over budget it is harder than

RunExport = Callable[[ExportConfig, Cache], dict[str, Any]]  # pipeline.run with a console of its own


@dataclass(frozen=True)
class SearchSettings:
    max_drop: float  # points of the metric ×100 (0.5: half an accuracy point, or 0.005 of Spearman)
    objective: str = "size"  # or "latency": the order candidates are visited in (space.py)
    minutes: float = 45.0  # no new candidate starts after this
    seeds: int = 2  # seeds of a stochastic fit; its worst counts

    def __post_init__(self) -> None:
        plain_fields(self)


@dataclass
class Measured:
    candidate: Candidate
    estimated_bytes: float
    seeds: list[dict[str, Any]] = field(default_factory=list)  # one row per seed (store.py's)
    # within budget / over budget... / skipped: ... / not needed: ... / not tried (the size objective stopped at a
    # smaller candidate within budget, or time ran out)
    status: str = "not tried"

    @property
    def measured_whole(self) -> bool:
        """Measured on the seeds it needed, none failing to export (a later seed's error leaves earlier rows)."""
        return bool(self.seeds) and not self.status.startswith(SKIPPED)

    @property
    def worst_drop(self) -> float:
        """The largest drop of its seeds; a seed whose score is not a number (a constant output's Spearman) is the
        worst there is (max() kept or lost a NaN by its place)."""
        drops = [row["drop"] for row in self.seeds]
        return math.inf if any(math.isnan(d) for d in drops) else max(drops)

    @property
    def p50_ms(self) -> float:
        """The candidate's latency (its seeds share the graph; their median p50)."""
        return float(median(row["p50_ms"] for row in self.seeds))

    @property
    def best_seed(self) -> dict[str, Any]:
        return min(self.seeds, key=lambda row: row["drop"])

    def to_json(self) -> dict[str, Any]:
        measured = ({"worst_drop": self.worst_drop, "model_bytes": self.best_seed["model_bytes"], "p50_ms": self.p50_ms}
                    if self.seeds else {})  # fmt: skip
        return {**self.candidate.to_json(), "status": self.status, "estimated_bytes": round(self.estimated_bytes),
                **measured, "seeds": self.seeds}  # fmt: skip


def drop_points(accuracy: dict[str, Any]) -> float:
    return round(100 * (accuracy["baseline_int8"] - accuracy["bundle"]), 4)


def candidate_config(base: ExportConfig, candidate: Candidate, seed: int, data: Path, out: Path) -> ExportConfig:
    """`base` (the user's flags) with the candidate's settings, scored on `data`, written to `out`; never strict: a
    parity failure is one more reason to go on to the next candidate, not the end of the search."""
    return replace(
        base,
        embedding=candidate.embedding,
        encoder=candidate.encoder,
        vocab=base.vocab if candidate.vocab else VocabConfig(),
        distill=base.distill if candidate.distill else DistillConfig(),
        evaluate=data,
        out=out,
        seed=seed,
        force=True,
        strict=False,
    )


@dataclass
class Search:
    base: ExportConfig
    settings: SearchSettings
    split: Split
    store: ResultStore
    work: Path  # scratch exports go here
    run_export: RunExport
    cache: Cache
    console: Console
    deadline: float = field(init=False)  # time.monotonic() after which no export starts

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + 60 * self.settings.minutes

    def explore(self, ordered: list[Measured]) -> Measured | None:
        """Measure the untried candidates in order and return the pick (None: nothing within budget before time ran
        out). Sets every visited candidate's status."""
        for measured in ordered:  # a pick that has since failed its confirmation may have ruled these out
            if measured.status.startswith(NOT_NEEDED):
                measured.status = "not tried"
        latency = self.settings.objective == "latency"
        pick = _fastest_within_budget(ordered) if latency else None
        for number, measured in enumerate(ordered, 1):
            if measured.status != "not tried":
                continue  # decided before (an earlier pick failed its confirmation)
            reason = reason_to_skip(measured, ordered, pick)
            if reason:
                measured.status = reason
                continue
            error = self.measure(measured, f"{number}/{len(ordered)}")
            if error == TIME_UP:
                continue  # stays "not tried"; a later candidate's stored results are still read
            if error:
                measured.status = f"{SKIPPED}{error}"
                self.console.print(f"  {measured.candidate.key}: {escape(measured.status)}", highlight=False)
                continue
            within = measured.worst_drop <= self.settings.max_drop and all(r["parity_passed"] for r in measured.seeds)
            measured.status = WITHIN_BUDGET if within else OVER_BUDGET
            self._print_progress(measured, ordered)
            if within and not latency:
                return measured
            if within:  # over every candidate within budget: the pick must not depend on the order they came in
                pick = _fastest_within_budget(ordered)
        return pick

    def _print_progress(self, measured: Measured, ordered: list[Measured]) -> None:
        left = max(0.0, (self.deadline - time.monotonic()) / 60)
        closest = min((m for m in ordered if m.measured_whole), key=lambda m: m.worst_drop)
        self.console.print(f"  {measured.candidate.key}: drop {measured.worst_drop:+.2f} pt (worst of "
                           f"{len(measured.seeds)}), {measured.best_seed['model_bytes'] / 1e6:.2f} MB, "
                           f"{measured.p50_ms:.1f} ms: {measured.status}; closest so far {closest.candidate.key} "
                           f"({closest.worst_drop:+.2f} pt); {left:.0f} min left", highlight=False)  # fmt: skip

    def measure(self, measured: Measured, position: str) -> str | None:
        """Fill `measured.seeds` from the store or by exporting, stopping at the first seed over budget (the worst
        counts); returns the error when the candidate cannot be exported at all, or TIME_UP (seeds left empty) when
        a seed it needs is not stored and the deadline has passed."""
        candidate = measured.candidate
        drawn = candidate_config(self.base, candidate, 0, self.split.search, self.work / "candidate").drawn
        for seed in range(self.settings.seeds if drawn else 1):
            row = self.store.get(candidate.key, seed)
            if row is None and time.monotonic() > self.deadline:
                measured.seeds.clear()
                return TIME_UP
            if row is None:
                self.console.print(f"  candidate {position}: {candidate.key}, seed {seed} …", highlight=False)
                row = self.export_on_search_part(candidate, seed)
                self.store.put(row)
            if "error" in row:
                return row["error"]
            measured.seeds.append(row)
            if not row["drop"] <= self.settings.max_drop or not row["parity_passed"]:  # NaN too
                break
        return None

    def export_on_search_part(self, candidate: Candidate, seed: int) -> dict[str, Any]:
        config = candidate_config(self.base, candidate, seed, self.split.search, self.work / "candidate")
        try:
            result = self.run_export(config, self.cache)
            latency = p50_ms(config.out)
        # a ratio the table cannot reach, a method the model cannot take; outputs that are not finite numbers
        # (write_golden's ParityError, even not strict): a candidate that cannot be built, not the search's end
        except (UserInputError, ParityError) as err:
            return {"key": candidate.key, "seed": seed, "error": str(err)}
        finally:
            shutil.rmtree(config.out, ignore_errors=True)
        return {
            "key": candidate.key,
            "seed": seed,
            "score": result["accuracy"]["bundle"],
            "baseline": result["accuracy"]["baseline_int8"],
            "drop": drop_points(result["accuracy"]),
            "model_bytes": result["size"]["model_bytes"],
            "parity_passed": result["parity"]["passed"],
            "export_seconds": round(result["timing"]["export_seconds"], 1),
            "p50_ms": latency,
        }


def p50_ms(folder: Path) -> float:
    """The bundle's p50 for one call at LATENCY_TOKENS tokens on one thread (as an app runs it), in ms."""
    from runtime_py import Bundle
    from runtime_py.bench import measure

    bundle = Bundle.load(folder, threads=1, verify=False)
    return round(measure(bundle, latency_tokens(bundle.manifest.max_length), LATENCY_RUNS).p50_ms, 3)


def latency_tokens(max_length: int) -> int:
    """The sequence length p50_ms times for a bundle that reads `max_length` tokens."""
    return min(LATENCY_TOKENS, max_length)


def fastest(within: list[Measured]) -> Measured | None:
    """The latency objective's pick: the smallest of the candidates within LATENCY_TIE of the quickest p50."""
    if not within:
        return None
    quickest = min(m.p50_ms for m in within)
    tied = [m for m in within if m.p50_ms <= quickest * (1 + LATENCY_TIE)]
    return min(tied, key=lambda m: m.best_seed["model_bytes"])


def _fastest_within_budget(ordered: list[Measured]) -> Measured | None:
    return fastest([m for m in ordered if m.status == WITHIN_BUDGET])


def reason_to_skip(measured: Measured, ordered: list[Measured], pick: Measured | None) -> str | None:
    """Why `measured` need not be exported: it compresses at least as hard as a candidate over budget, or (with
    the latency objective's current pick) its encoder has been timed far slower than the pick. None: export it."""
    candidate = measured.candidate
    rejected = [m.candidate for m in ordered if m.status == OVER_BUDGET]
    harder = next((r for r in rejected if candidate.harder_than(r)), None)
    if harder is not None:
        return f"{SKIPPED}compresses at least as hard as {harder.key}, which is over budget"
    if pick is None:
        return None
    encoder = candidate.encoder.to_json()
    timed = [m.p50_ms for m in ordered if m.seeds and m.candidate.encoder.to_json() == encoder]
    if timed and min(timed) > pick.p50_ms * SLOWER_ENCODER:
        return (f"{NOT_NEEDED}: its encoder timed {min(timed):.1f} ms, over {SLOWER_ENCODER:g}x "
                f"{pick.candidate.key}'s {pick.p50_ms:.1f} ms")  # fmt: skip
    return None
