"""The rehearsal's accounting, from a journal written here by hand: every figure checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.journal import Journal
from smtune.tuning.rehearsal.accounting import best, counts, summarize

# name: (started, ended, status, [(resource, value), ...]) on 2 hosts each; MaxResource 9.
JOBS = {
    "job-1": (100.0, 130.0, JobStatus.COMPLETED, [(1, 0.5), (2, 0.6), (3, 0.7)]),
    "job-2": (110.0, 120.0, JobStatus.STOPPED, [(1, 0.4)]),
    "job-3": (120.0, 125.0, JobStatus.FAILED, []),
    "job-4": (130.0, None, JobStatus.IN_PROGRESS, [(1, 0.9)]),
}


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    journal = Journal(tmp_path / "journal.db")
    for number, (name, (started, ended, status, seen)) in enumerate(JOBS.items(), 1):
        journal.add_job(number, name, 0, {"x": number}, 2, started)
        for resource, value in seen:
            journal.observe(name, resource, value, "Continue", started + resource)
        if ended is not None:
            journal.end_job(name, status, None, ended)
    return journal


def test_counts_hold_every_status_shown(journal: Journal) -> None:
    assert counts(journal.jobs()) == {
        JobStatus.COMPLETED: 1,
        JobStatus.STOPPED: 1,
        JobStatus.FAILED: 1,
        JobStatus.IN_PROGRESS: 1,
    }
    assert set(counts([]).values()) == {0}


def test_the_best_job_is_the_best_last_value(journal: Journal) -> None:
    last = journal.last_observations()
    assert best(last, Direction.MAXIMIZE) == ("job-4", 0.9)  # as far as it ran
    assert best(last, Direction.MINIMIZE) == ("job-2", 0.4)  # its last, not job-1's first
    assert best({}, Direction.MAXIMIZE) is None


def test_the_summary_of_a_fixed_journal(journal: Journal) -> None:
    summary = summarize(journal, Direction.MAXIMIZE, dict.fromkeys(JOBS, 9), 61.23456, ["a flag"])
    assert summary.jobs == counts(journal.jobs())  # InProgress shown: one is
    assert (summary.best_job, summary.best_objective) == ("job-4", 0.9)
    assert summary.resource_used == 5 and summary.resource_worst_case == 4 * 9
    assert summary.billable_seconds == (30 + 10 + 5 + 0) * 2  # elapsed x hosts
    assert summary.sequential_seconds == 45 and summary.wall_seconds == 61.235
    # Seconds per unit of resource times MaxResource, x hosts: job-1 30/3, job-2 10/1;
    # job-3 reported nothing, job-4 has run no time yet.
    assert summary.billable_seconds_worst_case == (30 / 3 * 9 + 10 / 1 * 9) * 2
    assert summary.flags == ("a flag",)
    assert summary.to_json()["jobs"] == {"Completed": 1, "Stopped": 1, "Failed": 1, "InProgress": 1}


def test_no_job_in_progress_is_left_out_of_the_summary(journal: Journal) -> None:
    journal.end_job("job-4", JobStatus.STOPPED, "Hyperband", 140.0)
    summary = summarize(journal, Direction.MINIMIZE, dict.fromkeys(JOBS, 9), 0.0)
    assert summary.jobs == {JobStatus.COMPLETED: 1, JobStatus.STOPPED: 2, JobStatus.FAILED: 1}
    assert summary.billable_seconds == (30 + 10 + 5 + 10) * 2
    assert (summary.best_job, summary.best_objective) == ("job-2", 0.4)


def test_without_max_resource_each_job_counts_its_own_length(journal: Journal) -> None:
    # Random or Grid: job-1 trains 3 rounds, job-2 and job-4 would have trained 12, job-3 5.
    lengths = {"job-1": 3, "job-2": 12, "job-3": 5, "job-4": 12}
    summary = summarize(journal, Direction.MAXIMIZE, lengths, 0.0)
    assert summary.resource_worst_case == 3 + 12 + 5 + 12
    assert summary.billable_seconds_worst_case == (30 / 3 * 3 + 10 / 1 * 12) * 2
    with pytest.raises(KeyError, match="job-4"):  # a job without a length is a bug
        summarize(journal, Direction.MAXIMIZE, {k: 1 for k in JOBS if k != "job-4"}, 0.0)
