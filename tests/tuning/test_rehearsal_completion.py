"""Rehearsals with completion criteria and retries, over the synthetic trainer (process
backend): which criterion ended a run, that running jobs finish, that a resumed rehearsal
re-evaluates from its journal; a platform error retried under the same name, a client error
not, and how both are counted."""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtune.containers.status import JobStatus
from smtune.tuning.amt.completion import Criterion, evaluate
from smtune.tuning.amt.retry import FailureKind
from smtune.tuning.journal import Journal
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.failures import failure_kind
from smtune.tuning.rehearsal.watch import final_objectives
from smtune.tuning.spec import parse
from tests.tuning.test_rehearsal import rehearse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tuning" / "jobs" / "synthetic-completion.yaml"


def example(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    data.update(changes)
    return data


def flat(
    epochs: int = 6, completion: Any = None, retry: Any = None, **static: Any
) -> dict[str, Any]:
    """The example with one rung (MinResource = MaxResource): every job runs to its end, so
    what ends the run does not hang on Hyperband's decisions; x and y near the known best.
    `completion` and `retry` replace its blocks (None: none)."""
    data = example(
        completion=completion,
        retry=retry,
        strategy={"type": "Hyperband", "min_resource": epochs, "max_resource": epochs},
        ranges={
            "x": {"type": "continuous", "min": 0.29, "max": 0.31},
            "y": {"type": "continuous", "min": 2.9, "max": 3.1},
        },
    )
    data["static_hyperparameters"] = {"epochs": epochs, "seconds_per_epoch": 0, **static}
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.timeout(120)
def test_the_example_ends_at_its_target_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.csv").write_text("1,1\n")
    summary_path = tmp_path / "summary.json"
    report = tmp_path / "report"
    command = [
        *(sys.executable, "-m", "smtune.tuning.cli", "tune", "rehearse", str(EXAMPLE)),
        *("--channel", f"train={tmp_path / 'train'}", "--out", str(tmp_path / "out")),
        *("--summary-json", str(summary_path), "--report", str(report)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=110, cwd=REPO)
    assert done.returncode == 0, done.stderr
    summary = json.loads(summary_path.read_text())
    met_by = summary["completion"]["MetBy"]
    assert summary["completion"]["Criterion"] == "TargetObjectiveMetricValue"
    assert summary["best_objective"] >= 0.85 and summary["best_job"] == met_by
    # One job at a time: the job that met it was the last launched, well before max_jobs (20).
    journal = Journal(tmp_path / "out" / "synthetic-completion" / "journal.db")
    names = [record.name for record in journal.jobs()]
    assert names[-1] == met_by and len(names) < 20
    # The criterion is the one the journal's final objectives give, and the output says so.
    criteria = plan(parse(example())).completion
    assert criteria is not None
    details = evaluate(criteria, final_objectives(journal), maximize=True)
    assert details.met is Criterion.TARGET_OBJECTIVE_METRIC_VALUE and details.met_by == met_by
    assert f"completion criterion TargetObjectiveMetricValue met by {met_by}" in done.stdout
    assert f"TargetObjectiveMetricValue, met by {met_by}" in (report / "summary.md").read_text()


def test_jobs_not_improving_end_the_run_and_a_resume_launches_none(tmp_path: Path) -> None:
    data = flat(completion={"max_jobs_not_improving": 3})
    summary, journal = rehearse(tmp_path, data)
    # x, y all but the best: no job beats the first by 1%, so the 4th job ends the run.
    assert summary.completion is not None
    assert summary.completion.met is Criterion.BEST_OBJECTIVE_NOT_IMPROVING
    assert summary.completion.number_of_training_jobs_objective_not_improving == 3
    assert len(journal.jobs()) == 4 and summary.completion.met_by == journal.jobs()[-1].name
    journal.close()
    # Resumed: re-evaluated from the journal, the criterion is met again and no job starts.
    again, journal = rehearse(tmp_path, data)
    assert again.completion == summary.completion and len(journal.jobs()) == 4


def test_convergence_ends_a_run_whose_best_stopped_moving(tmp_path: Path) -> None:
    # All but equal jobs: our stand-in sees no 1% gain over 10 jobs once 11 have ended.
    summary, journal = rehearse(tmp_path, flat(epochs=3, completion={"convergence": True}))
    assert summary.completion is not None
    assert summary.completion.met is Criterion.CONVERGENCE_DETECTED
    jobs = journal.jobs()
    assert len(jobs) == 11 and summary.completion.met_by == jobs[-1].name
    assert summary.completion.convergence_detected_time == jobs[-1].ended


def test_running_jobs_finish_once_a_criterion_is_met(tmp_path: Path) -> None:
    # Every job reaches a target of 0.1: the first to end meets it, while two others run.
    data = flat(epochs=9, completion={"target_objective": 0.1})
    data["limits"] = {"max_jobs": 20, "max_parallel_jobs": 3, "max_runtime_seconds": 600}
    data["static_hyperparameters"]["seconds_per_epoch"] = 0.05
    summary, journal = rehearse(tmp_path, data)
    assert summary.completion is not None
    assert summary.completion.met is Criterion.TARGET_OBJECTIVE_METRIC_VALUE
    jobs = journal.jobs()
    assert len(jobs) == 3  # the three started before it was met, and no more
    assert {j.status for j in jobs} == {JobStatus.COMPLETED}  # none stopped: they finished
    assert all(resource == 9 for resource, _ in journal.last_observations().values())


def test_a_platform_error_is_retried_under_the_same_name(tmp_path: Path) -> None:
    data = flat(
        retry={"max_attempts": 1}, fail_at_epoch=3, fail_with="PlatformError", fail_attempts=1
    )
    summary, journal = rehearse(tmp_path, data, max_jobs=2)
    jobs = journal.jobs()
    # Each job failed its first attempt on both hosts, was retried and completed; two jobs
    # still, each counted once (AMT restarts the same training job).
    assert [(j.number, j.status, j.attempts) for j in jobs] == [
        (1, JobStatus.COMPLETED, 2),
        (2, JobStatus.COMPLETED, 2),
    ]
    assert summary.retries == {jobs[0].name: 1, jobs[1].name: 1}
    assert summary.jobs[JobStatus.COMPLETED] == 2 and summary.failures == {}
    # Lines the first attempt reported are not counted again: one observation per epoch.
    assert [r for j, r, *_ in journal.observations() if j == jobs[0].name] == list(range(1, 7))


def test_retries_run_out_and_a_client_error_is_never_retried(tmp_path: Path) -> None:
    platform = flat(fail_at_epoch=2, fail_with="PlatformError", retry={"max_attempts": 2})
    summary, journal = rehearse(tmp_path / "platform", platform, max_jobs=1)
    assert [(j.status, j.attempts) for j in journal.jobs()] == [(JobStatus.FAILED, 3)]
    assert summary.failures == {"RetryableError": 1}
    for kind in ("UserError", "AlgorithmError"):
        client = flat(fail_at_epoch=2, fail_with=kind, retry={"max_attempts": 2})
        summary, journal = rehearse(tmp_path / kind, client, max_jobs=1)
        assert [(j.status, j.attempts) for j in journal.jobs()] == [(JobStatus.FAILED, 1)]
        assert summary.failures == {"NonRetryableError": 1} and summary.retries == {}
        assert f"{kind}" in (journal.jobs()[0].reason or "")


def test_a_platform_error_without_a_retry_strategy_fails_the_job(tmp_path: Path) -> None:
    data = flat(fail_at_epoch=2, fail_with="PlatformError", fail_attempts=1)
    summary, journal = rehearse(tmp_path, data, max_jobs=1)
    assert [(j.status, j.attempts) for j in journal.jobs()] == [(JobStatus.FAILED, 1)]
    assert summary.failures == {"RetryableError": 1}


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("algo-2: peer algo-1 was lost\nPlatformError", FailureKind.INTERNAL),
        ("algo-1: disk full\nPlatformError caused by OSError: [Errno 28]", FailureKind.INTERNAL),
        ("algo-1: eta=2 is out of range\nUserError", FailureKind.CLIENT),
        (
            "algo-1: the algorithm crashed\nAlgorithmError caused by KeyError: 'x'",
            FailureKind.CLIENT,
        ),
        ("algo-1 was killed by SIGKILL without writing a failure reason", FailureKind.CLIENT),
        (None, FailureKind.CLIENT),
    ],
)
def test_a_failure_reason_gives_its_kind(reason: str | None, kind: FailureKind) -> None:
    assert failure_kind(reason) is kind


def test_a_journal_from_before_retries_opens_with_one_attempt_each(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE jobs (number INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, bracket "
        "INTEGER NOT NULL, hyperparameters TEXT NOT NULL, hosts INTEGER NOT NULL, status TEXT "
        "NOT NULL, reason TEXT, started REAL, ended REAL, pids TEXT);"
        "INSERT INTO jobs VALUES (1, 'j-001', 0, '{}', 2, 'Completed', NULL, 1.0, 2.0, '[]');"
    )
    old.commit()
    old.close()
    journal = Journal(path)
    assert [(r.name, r.attempts) for r in journal.jobs()] == [("j-001", 1)]
    journal.add_job(2, "j-002", 0, {}, 2, 3.0)
    journal.retry_job("j-002")
    assert journal.attempts("j-002") == 2
