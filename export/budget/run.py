"""The search loop: visit candidates in order (space.py), export each on the search part of the labelled set
(every seed of a stochastic fit, stopping at the first over budget: the worst counts), and stop at the first within
budget; the caller confirms it on the other part.

Every candidate is a full export through pipeline.run (the same stages, the same cache of the baseline, the fp32
model's scores and the evaluation data), so its drop is exactly what the shipped bundle does, scored one text at a
time. Drops are in points (the metric ×100, positive = worse than the optimum/ORT int8 baseline)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ..cache import Cache
from ..config import DistillConfig, ExportConfig, VocabConfig
from ..errors import UserInputError
from .space import Candidate
from .split import Split
from .store import ResultStore

RunExport = Callable[[ExportConfig, Cache], dict[str, Any]]  # pipeline.run with a console of its own


@dataclass(frozen=True)
class SearchSettings:
    max_drop: float  # points of the metric ×100 (0.5: half an accuracy point, or 0.005 of Spearman)
    objective: str = "size"  # or "latency": the order candidates are visited in (space.py)
    minutes: float = 45.0  # no new candidate starts after this
    seeds: int = 2  # seeds of a stochastic fit; its worst counts


@dataclass
class Measured:
    candidate: Candidate
    estimated_bytes: float
    seeds: list[dict[str, Any]] = field(default_factory=list)  # one row per seed (store.py's)
    status: str = "not tried"  # within budget / over budget... / skipped: ... / not tried (time ran out)

    @property
    def worst_drop(self) -> float:
        return max(row["drop"] for row in self.seeds)

    @property
    def best_seed(self) -> dict[str, Any]:
        return min(self.seeds, key=lambda row: row["drop"])

    def to_json(self) -> dict[str, Any]:
        measured = {"worst_drop": self.worst_drop, "model_bytes": self.best_seed["model_bytes"]} if self.seeds else {}
        return {**self.candidate.to_json(), "status": self.status, "estimated_bytes": round(self.estimated_bytes),
                **measured, "seeds": self.seeds}  # fmt: skip


def drop_points(accuracy: dict[str, Any]) -> float:
    return round(100 * (accuracy["baseline_int8"] - accuracy["bundle"]), 4)


def candidate_config(
    base: ExportConfig, candidate: Candidate, seed: int, data: Path, out: Path, strict: bool
) -> ExportConfig:
    """`base` (the user's flags) with the candidate's settings, scored on `data`, written to `out`."""
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
        strict=strict,
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
    deadline: float = 0.0  # time.monotonic() after which no candidate starts; 0: settings.minutes from now

    def __post_init__(self) -> None:
        self.deadline = self.deadline or time.monotonic() + 60 * self.settings.minutes

    def explore(self, ordered: list[Measured]) -> Measured | None:
        """Measure the untried candidates in order until one is within budget (returned) or time runs out (None).
        Sets every visited candidate's status."""
        deadline = self.deadline
        for number, measured in enumerate(ordered, 1):
            if measured.status != "not tried":
                continue  # decided before (an earlier pick failed its confirmation)
            rejected = [m.candidate for m in ordered if m.status.startswith("over budget")]
            harder = next((r for r in rejected if measured.candidate.harder_than(r)), None)
            if harder is not None:
                measured.status = f"skipped: compresses at least as hard as {harder.key}, which is over budget"
                continue
            if time.monotonic() > deadline and self.store.get(measured.candidate.key, 0) is None:
                break  # the rest stay "not tried" (results already stored are still read)
            error = self.measure(measured, f"{number}/{len(ordered)}")
            if error:
                measured.status = f"skipped: {error}"
                continue
            within = measured.worst_drop <= self.settings.max_drop and all(r["parity_passed"] for r in measured.seeds)
            measured.status = "within budget" if within else "over budget"
            left = max(0.0, (deadline - time.monotonic()) / 60)
            closest = min((m for m in ordered if m.seeds), key=lambda m: m.worst_drop)
            self.console.print(f"  {measured.candidate.key}: drop {measured.worst_drop:+.2f} pt (worst of "
                               f"{len(measured.seeds)}), {measured.best_seed['model_bytes'] / 1e6:.2f} MB: "
                               f"{measured.status}; closest so far {closest.candidate.key} "
                               f"({closest.worst_drop:+.2f} pt); {left:.0f} min left", highlight=False)  # fmt: skip
            if within:
                return measured
        return None

    def measure(self, measured: Measured, position: str) -> str | None:
        """Fill `measured.seeds` from the store or by exporting, stopping at the first seed over budget (the worst
        counts); returns the error when the candidate cannot be exported at all."""
        candidate = measured.candidate
        stochastic = candidate.embedding.stochastic or candidate.distill
        for seed in range(self.settings.seeds if stochastic else 1):
            row = self.store.get(candidate.key, seed)
            if row is None:
                self.console.print(f"  candidate {position}: {candidate.key}, seed {seed} …", highlight=False)
                row = self.export_on_search_part(candidate, seed)
                self.store.put(row)
            if "error" in row:
                return row["error"]
            measured.seeds.append(row)
            if row["drop"] > self.settings.max_drop or not row["parity_passed"]:
                break
        return None

    def export_on_search_part(self, candidate: Candidate, seed: int) -> dict[str, Any]:
        config = candidate_config(self.base, candidate, seed, self.split.search, self.work / "candidate", False)
        try:
            result = self.run_export(config, self.cache)
        except UserInputError as err:  # a ratio the table cannot reach, a method the model cannot take
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
        }
