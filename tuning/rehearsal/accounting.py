"""What a rehearsal cost and found, computed from its journal alone: counts by status, the
best job, resource and billable seconds, and the worst case had no job stopped early.

A job's worst case is its own length (`tuning.rehearsal.choice.job_length`): MaxResource with
Hyperband, which completes every job there; with Random or Grid search, which have no
MaxResource, the job's own epochs or num_round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt.completion import CompletionDetails
from smtune.tuning.journal import JobRecord, Journal
from smtune.tuning.rehearsal.failures import status_counter
from smtune.tuning.rehearsal.watch import details_json

#: The statuses a rehearsal's jobs take, in the order they are shown.
SHOWN = (JobStatus.COMPLETED, JobStatus.STOPPED, JobStatus.FAILED, JobStatus.IN_PROGRESS)


@dataclass(frozen=True)
class Summary:
    jobs: dict[JobStatus, int]
    best_objective: float | None
    best_job: str | None
    resource_used: int
    resource_worst_case: int
    billable_seconds: float
    wall_seconds: float
    sequential_seconds: float = 0.0  # the same jobs one after another: what parallelism saved
    # Had no job stopped early: each job's seconds per unit of resource times its length.
    billable_seconds_worst_case: float = 0.0
    flags: tuple[str, ...] = ()
    # TuningJobCompletionDetails and the criterion met (None: the plan has no criteria).
    completion: CompletionDetails | None = None
    retries: dict[str, int] = field(default_factory=dict)  # job: its retries, if any
    # Failed jobs as TrainingJobStatusCounters counts them: RetryableError, NonRetryableError.
    failures: dict[str, int] = field(default_factory=dict)
    # With several training job definitions, each one's results (see `by_definition`).
    definitions: tuple[DefinitionSummary, ...] = ()
    # Warm start (`parent_journals`): the parents, their jobs, and AMT's
    # OverallBestTrainingJob.
    warm_start_type: str | None = None
    parents: tuple[str, ...] = ()
    parent_jobs: int = 0
    overall_best_job: str | None = None
    overall_best_objective: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "jobs": {k.value: v for k, v in self.jobs.items()},
            "completion": details_json(self.completion),
            "definitions": [d.to_json() for d in self.definitions],
        }


@dataclass(frozen=True)
class DefinitionSummary:
    """One training job definition's share of a rehearsal: its jobs (on `hosts` each), its
    best job, and what its jobs cost (elapsed seconds times its hosts)."""

    name: str
    hosts: int
    jobs: dict[JobStatus, int]
    best_objective: float | None
    best_job: str | None
    billable_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "jobs": {k.value: v for k, v in self.jobs.items()}}


def by_definition(journal: Journal, direction: Direction) -> tuple[DefinitionSummary, ...]:
    """Each named definition's results, in the order its first job ran; () when the jobs
    ran one unnamed definition."""
    named = journal.definitions()
    last = journal.last_observations()
    records: dict[str, list[JobRecord]] = {}
    for record in journal.jobs():
        if record.name in named:
            records.setdefault(named[record.name], []).append(record)
    found = []
    for name, own in records.items():
        top = best({r.name: last[r.name] for r in own if r.name in last}, direction)
        found.append(
            DefinitionSummary(
                name=name,
                hosts=own[0].hosts,
                jobs={k: v for k, v in counts(own).items() if k.ended or v},
                best_objective=top[1] if top else None,
                best_job=top[0] if top else None,
                billable_seconds=round(sum(_elapsed(r) * r.hosts for r in own), 3),
            )
        )
    return tuple(found)


def _elapsed(record: JobRecord) -> float:
    return (record.ended or record.started or 0) - (record.started or 0)


def counts(records: Sequence[JobRecord]) -> dict[JobStatus, int]:
    """Jobs by status, every status of SHOWN present."""
    found = dict.fromkeys(SHOWN, 0)
    for record in records:
        found[record.status] = found.get(record.status, 0) + 1
    return found


def best(last: Mapping[str, tuple[int, float]], direction: Direction) -> tuple[str, float] | None:
    """The best job and its objective: a job's last reported value is its final objective."""
    if not last:
        return None
    pick = max if direction is Direction.MAXIMIZE else min
    job = pick(last, key=lambda j: last[j][1])
    return job, last[job][1]


def summarize(
    journal: Journal,
    direction: Direction,
    lengths: Mapping[str, int],
    wall_seconds: float,
    flags: Sequence[str] = (),
    completion: CompletionDetails | None = None,
) -> Summary:
    """The summary of the rehearsal journaled in `journal`; a job still InProgress counts
    as far as it ran. `lengths`: each job's resource had nothing stopped it."""
    records = journal.jobs()
    last = journal.last_observations()
    found = best(last, direction)
    elapsed = {r.name: (r.ended or r.started or 0) - (r.started or 0) for r in records}
    billable = sum(elapsed[r.name] * r.hosts for r in records)
    # A job's seconds per unit of resource, stretched to its length.
    worst = sum(
        elapsed[r.name] / last[r.name][0] * lengths[r.name] * r.hosts
        for r in records
        if r.name in last
    )
    return Summary(
        jobs={k: v for k, v in counts(records).items() if k.ended or v},
        best_objective=found[1] if found else None,
        best_job=found[0] if found else None,
        resource_used=len(journal.observations()),
        resource_worst_case=sum(lengths[r.name] for r in records),
        billable_seconds=round(billable, 3),
        wall_seconds=round(wall_seconds, 3),
        sequential_seconds=round(sum(elapsed.values()), 3),
        billable_seconds_worst_case=round(worst, 3),
        flags=tuple(flags),
        completion=completion,
        retries={r.name: r.attempts - 1 for r in records if r.attempts > 1},
        failures=_failures(records),
        definitions=by_definition(journal, direction),
    )


def _failures(records: Sequence[JobRecord]) -> dict[str, int]:
    found: dict[str, int] = {}
    for record in records:
        if record.status is JobStatus.FAILED:
            counter = status_counter(record.reason).value
            found[counter] = found.get(counter, 0) + 1
    return found
