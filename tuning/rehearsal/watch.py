"""Completion criteria (TuningJobCompletionCriteria): planned from the spec, and evaluated by
the rehearsal each time a job ends.

The rules are `tuning.amt.completion`'s (each cites its AWS source); this module
joins them to the spec and to the journal. What a rehearsal does once a criterion is met
follows how AWS describes it: AMT "stops the tuning job" when a criterion is met, exactly as
its list of completion criteria has MaxNumberOfTrainingJobs stop it ("the maximum number of
training jobs to be run before tuning is stopped"), and neither says that running training
jobs are stopped (StopHyperParameterTuningJob, which does stop them, is the manual stop and
ends the tuning job Stopped, not Completed). So the rehearsal launches no new job and lets
the running ones end as they would (Hyperband may still stop them); a job already being
retried is running and goes on. The criterion reported is the first met, with the job that
met it, and stays so whatever the running jobs do after.

A resumed rehearsal re-evaluates from its journal: the finished jobs in the order they
ended, so a criterion met before the kill is met again at the same job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt.completion import (
    CompletionCriteria,
    CompletionDetails,
    FinalObjective,
    evaluate,
)

if TYPE_CHECKING:
    from smtune.tuning.journal import Journal


def final_objectives(journal: Journal) -> list[FinalObjective]:
    """The ended jobs in the order they ended, each with its final objective: its last
    reported value (a stopped job's too); a failed job's is None, as AMT evaluates none."""
    last = journal.last_observations()
    ended = [r for r in journal.jobs() if r.status.ended and r.ended is not None]
    ended.sort(key=lambda r: (r.ended, r.number))
    return [
        FinalObjective(
            r.name,
            None if r.status is JobStatus.FAILED or r.name not in last else last[r.name][1],
            r.ended or 0.0,
        )
        for r in ended
    ]


class CompletionWatch:
    """The rehearsal's hook: `update` after a job ends; `met` once a criterion is."""

    def __init__(self, criteria: CompletionCriteria | None, direction: Direction) -> None:
        self.criteria = criteria
        self.maximize = direction is Direction.MAXIMIZE
        self.details: CompletionDetails | None = None

    @property
    def met(self) -> bool:
        return self.details is not None and self.details.met is not None

    def update(self, journal: Journal) -> CompletionDetails | None:
        """Re-evaluate from the journal; returns the details when a criterion is met by this
        update (None otherwise, and always without criteria)."""
        if self.criteria is None or self.met:
            return None
        self.details = evaluate(self.criteria, final_objectives(journal), self.maximize)
        return self.details if self.met else None


def describe(details: CompletionDetails) -> str:
    """One line for the progress and the report."""
    not_improving = details.number_of_training_jobs_objective_not_improving
    if details.met is None:
        return f"no completion criterion met ({not_improving} jobs in a row not improving)"
    return (
        f"completion criterion {details.met.value} met by {details.met_by} "
        f"(NumberOfTrainingJobsObjectiveNotImproving {not_improving})"
    )


def details_json(details: CompletionDetails | None) -> dict[str, Any] | None:
    """TuningJobCompletionDetails as a rehearsal reports it, with the criterion met."""
    if details is None:
        return None
    return {
        "Criterion": details.met.value if details.met is not None else None,
        "MetBy": details.met_by,
        "NumberOfTrainingJobsObjectiveNotImproving": (
            details.number_of_training_jobs_objective_not_improving
        ),
        "ConvergenceDetectedTime": details.convergence_detected_time,
    }


def report_lines(
    details: CompletionDetails | None, retries: Mapping[str, int], failures: Mapping[str, int]
) -> list[str]:
    """What a rehearsal's summary.md says of completion and retries."""
    lines = []
    if details is not None and details.met is not None:
        lines.append(
            f"Completion: {details.met.value}, met by {details.met_by} "
            "(TuningJobCompletionDetails: NumberOfTrainingJobsObjectiveNotImproving "
            f"{details.number_of_training_jobs_objective_not_improving}); no job was launched "
            "after it, the running ones finished."
        )
    elif details is not None:
        lines.append(f"Completion: {describe(details)}; the run ended at its limits.")
    if retries:
        shown = ", ".join(f"{job} {count}" for job, count in retries.items())
        lines.append(f"Retries (each job counted once): {shown}.")
    if failures:
        lines.append("Failed: " + ", ".join(f"{k} {v}" for k, v in failures.items()) + ".")
    return lines
