"""Which training job definition each rehearsed job runs, and the space its scheduler draws from.

AMT does not publish how a tuning job with several definitions shares its jobs among them.
The rehearsal gives them jobs in turn, in the spec's order: job n (counted from 1) runs
definition (n - 1) mod k of k. We chose this over drawing the definition with the
hyperparameters because:
- it is balanced: each definition runs ⌊N/k⌋ or ⌈N/k⌉ of N jobs, so their best objectives
  and costs compare like with like, where a draw could leave a small tuning job with one
  definition barely tried;
- a job's definition follows from its number alone, so a resumed rehearsal gives each job
  the definition it had, whatever the scheduler draws;
- the brackets are drawn for every job alike, independently of its definition, so each
  definition meets every bracket.

One scheduler serves every definition, as one AMT tuning job does: its rungs rank the jobs of
all definitions together on the shared objective, so a definition whose jobs do worse at a
rung (or cost more time for the same result: the report shows that) loses its jobs there. Its
space holds every definition's ranges, keyed `definition/hyperparameter` (a DefinitionName
has no `/`); a job keeps the draws of its own definition. With one unnamed definition (a
spec without `definitions`) the space is its ranges, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smtune.tuning.amt.ranges import Range, api_ranges
from smtune.tuning.plan import TrainingDefinition, the_only


@dataclass(frozen=True)
class Allocation:
    """The jobs of a tuning job shared among its definitions, in turn."""

    definitions: tuple[TrainingDefinition, ...]

    @property
    def several(self) -> bool:
        return not the_only(self.definitions)

    def definition(self, number: int) -> TrainingDefinition:
        """The definition job `number` (from 1) runs."""
        if number < 1:
            raise ValueError(f"job number {number}: jobs are numbered from 1")
        return self.definitions[(number - 1) % len(self.definitions)]

    def space(self) -> dict[str, Range]:
        """What the scheduler draws from, for every job: every definition's ranges."""
        if not self.several:
            return dict(self.definitions[0].ranges)
        return {f"{d.name}/{k}": r for d in self.definitions for k, r in d.ranges.items()}

    def own(self, number: int, drawn: dict[str, Any]) -> dict[str, Any]:
        """The hyperparameters job `number` runs with, of those the scheduler drew."""
        if not self.several:
            return drawn
        prefix = f"{self.definition(number).name}/"
        return {k.removeprefix(prefix): v for k, v in drawn.items() if k.startswith(prefix)}

    def fingerprint(self) -> Any:
        """What a journal must have been made with to be resumed: the ranges (and, with
        several definitions, each definition's name and hosts, in order)."""
        if not self.several:
            return api_ranges(self.definitions[0].ranges)
        return [
            {"name": d.name, "hosts": d.instance.count, "ranges": api_ranges(d.ranges)}
            for d in self.definitions
        ]
