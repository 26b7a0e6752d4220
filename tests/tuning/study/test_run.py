"""`smtune study` locally on the process backend: end to end, bad input, kill -9, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from smtune.containers.status import JobStatus
from smtune.tuning.cli import main
from smtune.tuning.journal import JobRecord, Journal
from smtune.tuning.study.model import StudyError, read
from smtune.tuning.study.run import open_journal
from smtune.tuning.study.steps import StudyJournal
from tests.tuning.study.conftest import synthetic_study
from tests.tuning.test_rehearsal import (  # noqa: F401  (started is a fixture)
    _default_sigint,
    hosts_under,
    launch,
    started,
    wait_until,
)


def command(study: Path, train: Path, out: Path, *extra: str) -> list[str]:
    return ["study", str(study), "--channel", f"train={train}", "--out", str(out), *extra]


def test_a_study_runs_every_step_and_writes_its_report(
    tmp_path: Path, train: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(command(synthetic_study(tmp_path), train, out, "--max-jobs", "4")) == 0
    progress = capsys.readouterr().out
    assert "[0/5 done] untuned baseline at 1 host: started" in progress
    assert "[5/5 done] rung check (configurations run to MaxResource) at 1 host: done" in progress
    # An estimate once something has run: a bound until a step of each kind has run.
    assert "[1/5 done] untuned baseline at 2 hosts: started | at most " in progress
    assert "[3/5 done] tuning job at 2 hosts: started | at most " in progress
    journal = StudyJournal(out / "study.db")
    assert list(journal.steps()) == [
        "baseline-1",
        "baseline-2",
        "tuning-1",
        "tuning-2",
        "rung-check",
    ]
    report = json.loads((out / "study.json").read_text())
    assert [b["hosts"] for b in report["baseline"]] == [1, 2]
    assert set(report["tuned"][0]) >= {
        "hosts",
        "best_objective",
        "best_job",
        "resource_used",
        "resource_worst_case",
        "billable_seconds",
        "billable_seconds_worst_case",
        "wall_seconds",
    }
    assert report["choice"]["hosts"] in (1, 2) and report["choice"]["reason"]
    for tuned in report["tuned"]:  # x = 0.9 is far from the best x = 0.3: tuning wins
        assert tuned["best_objective"] > report["baseline"][0]["objective"]
        assert sum(tuned["jobs"].values()) == 4
    assert Journal(out / "tuning-2" / "journal.db").jobs()[0].hosts == 2
    text = (out / "report.md").read_text()
    assert "| hosts | untuned validation:score | tuned validation:score | improvement |" in text
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page


def test_bad_command_line_input_is_refused_before_anything_runs(
    tmp_path: Path, train: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = synthetic_study(tmp_path)
    out = tmp_path / "out"
    assert main(["study", str(study), "--out", str(out), "--sizes", "1,3"]) == 2
    error = capsys.readouterr().err
    assert "channels: no local data for train: give --channel train=DIR" in error
    assert "--sizes 3: not among the study's sizes: must be some of 1,2" in error
    assert not out.exists()


def test_an_out_folder_of_another_study_is_refused(tmp_path: Path) -> None:
    first = read(synthetic_study(tmp_path))
    open_journal(first, tmp_path / "out", resume=False).close()
    with pytest.raises(StudyError, match="pass --resume to continue it"):
        open_journal(first, tmp_path / "out", resume=False)
    open_journal(first, tmp_path / "out", resume=True).close()
    other = read(synthetic_study(tmp_path / "b", name="other-study"))
    with pytest.raises(StudyError, match="holds the journal of another study"):
        open_journal(other, tmp_path / "out", resume=True)
    changed = read(synthetic_study(tmp_path / "c", sizes=[1, 2], tolerance=0.5))
    with pytest.raises(StudyError, match="another version of this study"):
        open_journal(changed, tmp_path / "out", resume=True)


def cli(study: Path, train: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "smtune.tuning.cli", *command(study, train, out, *extra)]


def wait_for(condition: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the study never got there"
        time.sleep(0.1)


def finished_jobs(journal: Path) -> list[JobRecord]:
    if not journal.exists():
        return []
    return [j for j in Journal(journal).jobs() if j.status is not JobStatus.IN_PROGRESS]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_kill_9_mid_study_then_resume_loses_no_finished_job(
    tmp_path: Path,
    train: Path,
    started: list[subprocess.Popen[str]],  # noqa: F811
) -> None:
    study = synthetic_study(tmp_path, seconds_per_epoch=0.05)
    out = tmp_path / "out"
    first = launch(started, cli(study, train, out, "--max-jobs", "6"), stdout=subprocess.DEVNULL)
    tuning = out / "tuning-1" / "journal.db"
    wait_for(lambda: len(finished_jobs(tuning)) >= 2)
    os.killpg(first.pid, signal.SIGKILL)  # the study dies mid-tuning-job, without a word
    first.wait()
    steps_before = StudyJournal(out / "study.db").steps()
    jobs_before = finished_jobs(tuning)
    assert list(steps_before) == ["baseline-1", "baseline-2"]
    resumed = subprocess.run(
        cli(study, train, out, "--max-jobs", "6", "--resume"),
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps_after = StudyJournal(out / "study.db").steps()
    for key, (data, _) in steps_before.items():  # finished steps were not run again
        assert steps_after[key][0] == data
    after = {j.name: j for j in Journal(tuning).jobs()}
    for job in jobs_before:
        assert after[job.name] == job
    assert len(after) == 6 and all(j.status is not JobStatus.IN_PROGRESS for j in after.values())
    assert "baseline at 1 host: started" not in resumed.stdout
    assert not hosts_under(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ctrl_c_leaves_nothing_running(
    tmp_path: Path,
    train: Path,
    started: list[subprocess.Popen[str]],  # noqa: F811
) -> None:
    study = synthetic_study(tmp_path, seconds_per_epoch=0.2)
    out = tmp_path / "out"
    process = launch(
        started,
        cli(study, train, out, "--max-jobs", "4"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    wait_for(lambda: (out / "tuning-1" / "journal.db").exists() and bool(hosts_under(tmp_path)))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and "--resume" in stderr and "nothing is left" in stderr
    assert wait_until(lambda: not hosts_under(tmp_path))


def test_a_tuning_job_whose_objective_reads_nothing_stops_the_study_cleanly(
    tmp_path: Path, train: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = synthetic_study(tmp_path)
    data = yaml.safe_load(study.read_text())
    data["tuning"]["static_hyperparameters"]["metric_lines"] = False  # a form no regex reads
    study.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert (
        main(command(study, train, out, "--max-jobs", "2")) == 2
    )  # bad input, as `rehearse` exits (containers.errors)
    error = capsys.readouterr().err
    assert "smtune: study stopped: the objective validation:score's regex" in error
    assert f"--out {out} --resume" in error
    assert list(StudyJournal(out / "study.db").steps()) == ["baseline-1", "baseline-2"]


def test_a_study_into_an_out_folder_in_use_is_refused_at_once(
    tmp_path: Path, train: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.containers.test_lock import held_in_child

    out = tmp_path / "out"
    with held_in_child(out) as first:  # a study (or a train) writing there still
        began = time.monotonic()
        code = main(command(synthetic_study(tmp_path), train, out, "--max-jobs", "2"))
        took = time.monotonic() - began
    error = capsys.readouterr().err
    assert code == 2, error
    assert took < 1  # at once (the study file's checks included)
    assert f"smtune: error: --out {out} is in use by pid {first.pid} since " in error
    assert "Traceback" not in error
    assert sorted(p.name for p in out.iterdir()) == [".smtune.lock"]  # no journal, no step
