"""Resuming a rehearsal from a journal in the state a kill leaves in a window between two
writes: the state is built directly (a finished journal, set back to that moment), so the
window is hit every time, not found by timing a `kill -9`."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec, RunningJob
from smtune.containers.local.process import ProcessBackend
from smtune.containers.status import JobStatus, TuningJobStatus
from smtune.tuning.journal import Journal
from smtune.tuning.plan import shape_of
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal import parent_journals
from smtune.tuning.rehearsal.runner import WALL_SECONDS, Rehearsal
from smtune.tuning.spec import parse
from tests.containers.test_leftovers import Sleepers
from tests.tuning.test_rehearsal import ENDED_WELL, REPO, rehearse, spec_data

JOBS = 4


class Recording(ProcessBackend):
    """The process backend, noting the jobs it starts and, for each job whose leftovers it
    ends, the job's status in the journal at that moment."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.started: list[str] = []
        self.leftovers: dict[str, JobStatus] = {}

    def start(self, spec: JobSpec, echo: bool = False) -> RunningJob:
        self.started.append(spec.out.name)
        return super().start(spec, echo)

    def end_leftovers(self, out: Path) -> list[str]:
        status = {r.name: r.status for r in self.journal.jobs()}
        self.leftovers[out.name] = status[out.name]
        return super().end_leftovers(out)


def killed_after_the_decision(path: Path, decision: str) -> tuple[str, float]:
    """Set the finished journal at `path` back to the moment after the last job decided
    `decision` was journaled as decided, before its end was: that job InProgress, no end,
    no job after it, the rehearsal's wall time the time it had run then. Returns the job and
    its decision's time."""
    db = sqlite3.connect(path)
    with db:
        job, at = db.execute(
            "SELECT job, time FROM observations o WHERE decision = ? AND sequence = "
            "(SELECT MAX(sequence) FROM observations WHERE job = o.job) "
            "ORDER BY sequence DESC LIMIT 1",
            (decision,),
        ).fetchone()
        (number,) = db.execute("SELECT number FROM jobs WHERE name = ?", (job,)).fetchone()
        later = "SELECT name FROM jobs WHERE number > ?"
        db.execute(f"DELETE FROM observations WHERE job IN ({later})", (number,))
        db.execute(f"DELETE FROM job_definitions WHERE job IN ({later})", (number,))
        db.execute("DELETE FROM jobs WHERE number > ?", (number,))
        db.execute(
            "UPDATE jobs SET status = ?, reason = NULL, ended = NULL WHERE name = ?",
            (JobStatus.IN_PROGRESS.value, job),
        )
        (began,) = db.execute("SELECT MIN(started) FROM jobs").fetchone()
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (repr(at - began), WALL_SECONDS))
    db.close()
    return job, at


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("decision", "status", "reason"),
    [("Stop", JobStatus.STOPPED, "Hyperband"), ("Complete", JobStatus.COMPLETED, "MaxResource")],
)
def test_a_job_decided_but_not_ended_at_the_kill_ends_as_decided_and_is_not_restarted(
    tmp_path: Path, decision: str, status: JobStatus, reason: str
) -> None:
    data = spec_data(seconds_per_epoch=0)
    _, first = rehearse(tmp_path, data, max_jobs=JOBS, max_parallel=1)  # one at a time: seeded
    first.close()
    path = tmp_path / "journal.db"
    job, decided_at = killed_after_the_decision(path, decision)
    observed = [o for o in Journal(path).observations() if o[0] == job]
    # Its hosts may still run when the resume begins: the kill took their runner only.
    leftover = Sleepers().start(JobSpec(image("synthetic"), 2, {}, {}, tmp_path / "jobs" / job))
    journal = Journal(path)
    backend = Recording(journal)
    try:
        summary = Rehearsal(
            plan(parse(data), registry="local"),
            {"train": tmp_path / "train"},
            tmp_path / "jobs",
            journal,
            backend,
            max_jobs=JOBS,
            max_parallel=1,
        ).run()
        for process in leftover.processes.values():  # type: ignore[attr-defined]
            assert process.wait(timeout=10) < 0  # ended by the resume, with a signal
    finally:
        leftover.kill()
    assert job not in backend.started  # ended as decided, not run again
    assert backend.leftovers[job] is JobStatus.IN_PROGRESS  # its hosts ended before its end
    record = next(r for r in journal.jobs() if r.name == job)
    assert (record.status, record.reason, record.ended) == (status, reason, decided_at)
    assert [o for o in journal.observations() if o[0] == job] == observed
    jobs = journal.jobs()
    assert len(jobs) == JOBS and all(r.status in ENDED_WELL for r in jobs)
    assert sum(summary.jobs[s] for s in ENDED_WELL) == JOBS
    assert summary.wall_seconds >= decided_at - min(r.started or 0 for r in jobs)  # and ran on
    resources = [(o[0], o[1]) for o in journal.observations()]
    assert len(resources) == len(set(resources))  # no unit of resource counted twice


# A resume's record_start, killed right after it wrote the shape, before the state.
KILLED_IN_RECORD_START = """
import dataclasses, os, signal, sys
from pathlib import Path
from smtune.tuning.rehearsal import parent_journals
from smtune.tuning.journal import Journal
path = Path(sys.argv[1])
shape = parent_journals.read_parent(path).shape
changed = dataclasses.replace(shape, maximize=not shape.maximize)
set_meta = Journal.set_meta
def killing(self, key, value):
    set_meta(self, key, value)
    if key == parent_journals.SHAPE:
        os.kill(os.getpid(), signal.SIGKILL)
Journal.set_meta = killing
parent_journals.record_start(Journal(path), changed, ())
"""


@pytest.mark.timeout(60)
def test_a_kill_inside_record_start_leaves_no_completed_parent_of_another_shape(
    tmp_path: Path,
) -> None:
    """A finished rehearsal resumed with a changed objective direction (which its fingerprint
    does not hold) and killed between record_start's writes: it must not read back as a
    Completed parent of the new shape, which its jobs never had."""
    path = tmp_path / "parent.db"
    journal = Journal(path)
    checked = plan(parse(spec_data()), registry="local")
    parent_journals.record_start(journal, shape_of(checked, {"train": "/data"}), ())
    parent_journals.record_end(journal)
    journal.close()
    before = parent_journals.read_parent(path)
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_RECORD_START, str(path)], cwd=REPO)
    assert killed.returncode == -signal.SIGKILL
    after = parent_journals.read_parent(path)
    assert before.status is TuningJobStatus.COMPLETED
    assert after.status is not TuningJobStatus.COMPLETED or after.shape == before.shape


RANDOM = REPO / "tuning" / "jobs" / "synthetic-random.yaml"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("journal_kind", ["this", "older"])
def test_a_resume_replays_the_median_rule_with_the_jobs_ended_before_each_result(
    tmp_path: Path, journal_kind: str
) -> None:
    """Random with early stopping Auto: the median rule judges a result by the jobs that had
    ended before it, so a replay must end each job where it ended among the results, not
    after all of them (it then decided Continue where the journal says Stop, and refused to
    resume). An older journal, which did not say where, is placed by its times."""
    data = yaml.safe_load(RANDOM.read_text())
    data["static_hyperparameters"]["seconds_per_epoch"] = 0
    _, first = rehearse(tmp_path, data, max_parallel=1)  # one at a time: seeded
    before = first.jobs()
    reasons = {r.reason for r in before}
    assert "early stopping (median rule)" in reasons and None in reasons  # stopped; ran out
    if journal_kind == "older":
        first.db.execute("UPDATE jobs SET ended_after = NULL")
    first.close()
    _, again = rehearse(tmp_path, data, max_parallel=1)
    assert [(r.name, r.status, r.ended) for r in again.jobs()] == [
        (r.name, r.status, r.ended) for r in before
    ]
