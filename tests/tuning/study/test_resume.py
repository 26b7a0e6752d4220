"""A study resumed from the state a kill leaves between a step's end and its journal row:
the state is built directly (a finished study, its tuning step's row taken out), so the
window is hit every time, not found by timing a `kill -9`."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from smtune.containers.local.process import ProcessBackend
from smtune.tuning.study.model import read
from smtune.tuning.study.run import StudyResult, StudyRun, open_journal
from smtune.tuning.study.steps import FILE
from tests.tuning.study.conftest import synthetic_study


def run(study_file: Path, train: Path, out: Path, resume: bool) -> StudyResult:
    study = read(study_file)
    journal = open_journal(study, out, resume)
    try:
        return StudyRun(
            study, {"train": train}, out, journal, ProcessBackend(), sizes=[1], max_jobs=4
        ).run()
    finally:
        journal.close()


@pytest.mark.timeout(120)
def test_a_tuning_step_killed_after_its_rehearsal_ended_keeps_its_wall_time(
    tmp_path: Path, train: Path
) -> None:
    """Its rehearsal's journal is whole, so the resumed step resumes a finished rehearsal:
    the tuning job's wall time is still what it ran, not the second of the resume."""
    study = synthetic_study(
        tmp_path, seconds_per_epoch=0.01, rung_check={"configurations": 1, "hosts": 1}
    )
    out = tmp_path / "out"
    first = run(study, train, out, resume=False)
    db = sqlite3.connect(out / FILE)
    with db:  # as if killed after tuning-1's rehearsal ended, before its row was written
        db.execute("DELETE FROM steps WHERE key IN ('tuning-1', 'rung-check')")
    db.close()
    time.sleep(0.5)  # from the kill to the resume: no job's time, nor the tuning job's
    began = time.monotonic()
    second = run(study, train, out, resume=True)
    resumed_s = time.monotonic() - began
    (tuned,), (again,) = first.tuned, second.tuned
    assert again.jobs == tuned.jobs and again.best_job == tuned.best_job
    assert again.billable_seconds == tuned.billable_seconds
    # Less by what its first run took after journaling its end (a commit, the summary).
    assert tuned.wall_seconds - 0.25 <= again.wall_seconds <= tuned.wall_seconds + resumed_s
