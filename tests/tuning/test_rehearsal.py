"""Rehearsals of a tuning job over the synthetic trainer: decisions, faults, kill and resume."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtune.containers.local.process import ProcessBackend
from smtune.containers.status import JobStatus
from smtune.tuning.journal import Journal
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.runner import Rehearsal, RehearsalError
from smtune.tuning.schedulers.bracket_policy import BracketPolicy
from smtune.tuning.spec import parse, read_data

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tuning" / "jobs" / "synthetic-hyperband.yaml"
ENDED_WELL = (JobStatus.COMPLETED, JobStatus.STOPPED)


def spec_data(**static: Any) -> dict[str, Any]:
    data = copy.deepcopy(yaml.safe_load(SPEC.read_text()))
    data["static_hyperparameters"].update(static)
    return data


def rehearse(tmp_path: Path, data: dict[str, Any], **options: Any) -> tuple[Any, Journal]:
    (tmp_path / "train").mkdir(parents=True, exist_ok=True)
    (tmp_path / "train" / "a.csv").write_text("1,1\n")
    journal = Journal(tmp_path / "journal.db")
    rehearsal = Rehearsal(
        plan(parse(data), registry="local"),
        {"train": tmp_path / "train"},
        tmp_path / "jobs",
        journal,
        ProcessBackend(),
        **options,
    )
    return rehearsal.run(), journal


@pytest.mark.parametrize("checkpoint_s3_uri", [None, "s3://bucket/checkpoints/"])
def test_jobs_get_a_checkpoint_config_exactly_when_the_spec_gives_one(
    tmp_path: Path, checkpoint_s3_uri: str | None
) -> None:
    data = {**spec_data(seconds_per_epoch=0), "checkpoint_s3_uri": checkpoint_s3_uri}
    rehearse(tmp_path, {k: v for k, v in data.items() if v is not None}, max_jobs=2)
    configs = sorted(tmp_path.glob("jobs/*/algo-*/input/config/checkpointconfig.json"))
    assert len(configs) == (0 if checkpoint_s3_uri is None else 2 * 2)  # 2 jobs × 2 hosts


def test_a_rehearsal_follows_hyperbands_rules(tmp_path: Path) -> None:
    summary, journal = rehearse(tmp_path, spec_data(seconds_per_epoch=0))
    jobs = journal.jobs()
    assert [j.number for j in jobs] == list(range(1, 13))  # every job once, in order
    assert all(j.hosts == 2 for j in jobs)
    observed: dict[str, list[tuple[int, str]]] = {}
    for job, resource, _, decision, _ in journal.observations():
        observed.setdefault(job, []).append((resource, decision))
    for record in jobs:
        resources = [r for r, _ in observed[record.name]]
        assert resources == list(range(1, len(resources) + 1))  # one line, one unit
        last, decision = observed[record.name][-1]
        if record.status is JobStatus.COMPLETED:
            assert (last, decision) == (27, "Complete")  # stopped at MaxResource
        else:
            assert record.status is JobStatus.STOPPED and decision == "Stop" and last in (1, 3, 9)
    assert summary.jobs[JobStatus.COMPLETED] + summary.jobs[JobStatus.STOPPED] == 12
    assert summary.resource_used == len(journal.observations()) <= summary.resource_worst_case
    assert summary.resource_worst_case == 12 * 27
    assert summary.billable_seconds <= summary.billable_seconds_worst_case
    final = {job: steps[-1] for job, steps in observed.items()}
    assert summary.best_job in final


def test_a_failed_job_is_failed_and_the_tuning_goes_on(tmp_path: Path) -> None:
    summary, journal = rehearse(
        tmp_path, spec_data(seconds_per_epoch=0, fail_at_epoch=5), max_jobs=4
    )
    statuses = {j.status for j in journal.jobs()}
    assert len(journal.jobs()) == 4 and JobStatus.FAILED in statuses
    failed = [j for j in journal.jobs() if j.status is JobStatus.FAILED]
    assert all("failing at epoch 5" in (j.reason or "") for j in failed)
    assert summary.jobs[JobStatus.FAILED] == len(failed)


def test_a_regex_that_reads_nothing_stops_the_rehearsal(tmp_path: Path) -> None:
    with pytest.raises(RehearsalError) as error:
        rehearse(tmp_path, spec_data(seconds_per_epoch=0, metric_lines=False), max_jobs=2)
    message = str(error.value)
    assert "validation:score's regex" in message and "read nothing" in message
    assert "epoch 27: score=" in message  # the lines it could not read, quoted


def cli_rehearsal(tmp_path: Path, seconds_per_epoch: float) -> tuple[list[str], Path]:
    """The `smtune tune rehearse` command of the synthetic spec, and its journal's path."""
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.csv").write_text("1,1\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_data(seconds_per_epoch=seconds_per_epoch)))
    journal = tmp_path / "journal.db"
    command = [
        sys.executable,
        "-m",
        "smtune.tuning.cli",
        "tune",
        "rehearse",
        str(spec),
        "--channel",
        f"train={tmp_path / 'train'}",
        "--out",
        str(tmp_path / "out"),
        "--journal",
        str(journal),
    ]
    return command, journal


def wait_for_jobs(journal: Path, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if journal.exists() and len(Journal(journal).jobs()) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the journal never held {count} jobs")


def hosts_under(folder: Path) -> list[int]:
    """Live processes whose environment names `folder`: hosts a test's rehearsal started."""
    marker = str(folder).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone, or another user's
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
    return found


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Commands a test starts (with `launch`); whatever happens, they and every host they
    started are ended when the test ends."""
    processes: list[subprocess.Popen[str]] = []
    try:
        yield processes
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # each leads its own session
            process.wait()
        for pid in hosts_under(tmp_path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def launch(
    started: list[subprocess.Popen[str]], command: list[str], **options: Any
) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, text=True, start_new_session=True, **options)
    started.append(process)
    return process


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_kill_9_mid_rehearsal_then_resume_runs_every_job_exactly_once(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0.05)
    first = launch(started, command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_jobs(journal, 5)
    os.killpg(first.pid, signal.SIGKILL)  # the rehearsal dies mid-run, without a word
    first.wait()
    before = Journal(journal).jobs()
    assert 5 <= len(before) < 12 and any(j.status is JobStatus.IN_PROGRESS for j in before)
    second = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=200)
    assert second.returncode == 0, second.stderr
    after = Journal(journal)
    names = [j.name for j in after.jobs()]
    assert len(names) == len(set(names)) == 12  # every job exactly once
    assert all(j.status in ENDED_WELL for j in after.jobs())
    for record in before:
        if record.status is not JobStatus.IN_PROGRESS:  # finished jobs were neither rerun nor lost
            assert next(j for j in after.jobs() if j.name == record.name) == record
    observations = [(job, resource) for job, resource, *_ in after.observations()]
    assert len(observations) == len(set(observations))  # no unit of resource counted twice


def test_the_report_uses_analyzes_columns_and_writes_plots(tmp_path: Path) -> None:
    from smtune.tuning.report import COLUMNS, journal_frame, rehearsal_report

    _, journal = rehearse(tmp_path, spec_data(seconds_per_epoch=0), max_jobs=5)
    frame = journal_frame(journal)
    assert list(frame.columns) == ["x", "y", *COLUMNS]
    assert len(frame) == 5 and frame["InstanceCount"].eq(2).all()
    assert frame["TrainingStartTime"].iloc[0].year >= 2026  # wall-clock dates, not uptimes
    written = rehearsal_report(journal, tmp_path / "report", "synthetic", (1, 3, 9, 27), True)
    assert [p.name for p in written] == ["learning-curves.png", "best-so-far.png", "summary.md"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written[:2])
    assert "Best job: synthetic-hyperband-00" in written[2].read_text()


def test_metric_lines_from_several_hosts_are_flagged(tmp_path: Path) -> None:
    # Epochs of 20 ms: with none, the leader printed all 27 lines and was stopped (SIGTERM to
    # every host) before a late-starting algo-2 had printed any, and nothing was left to flag.
    summary, _ = rehearse(
        tmp_path, spec_data(seconds_per_epoch=0.02, metrics_from_every_host=True), max_jobs=2
    )
    assert len(summary.flags) == 2
    assert "hosts algo-2 also print validation:score lines" in summary.flags[0]
    clean, _ = rehearse(tmp_path / "clean", spec_data(seconds_per_epoch=0), max_jobs=2)
    assert clean.flags == ()


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_whole_seed_job_rehearses_on_the_docker_backend(
    docker_image: str, bank: Path, tmp_path: Path
) -> None:
    """The seed's job as it stands (30 jobs, 3 hosts each, num_round 200) as containers."""
    import json

    from tests.tuning.conftest import SEED

    data = read_data(SEED)[0]
    data["static_hyperparameters"]["nthread"] = 1  # 9 containers share 2 cores
    spec = tmp_path / "seed.yaml"
    spec.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtune.tuning.cli",
            "tune",
            "rehearse",
            str(spec),
            "--backend",
            "docker",
            "--image",
            docker_image,
            "--channel",
            f"train={bank / 'train'}",
            "--channel",
            f"validation={bank / 'validation'}",
            "--out",
            str(tmp_path / "out"),
            "--summary-json",
            str(tmp_path / "s.json"),
        ],
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert sum(summary["jobs"].values()) == 30 and summary["jobs"].get("Failed", 0) == 0
    assert summary["jobs"].get("Stopped", 0) > 0  # Hyperband did stop jobs early
    assert summary["best_objective"] > 0.77 and summary["flags"] == []
    assert summary["resource_used"] < summary["resource_worst_case"] == 30 * 200
    assert summary["sequential_seconds"] > summary["wall_seconds"]  # jobs ran side by side
    from smtune.containers.local.docker import docker

    labels = docker("network", "ls", "--format", "{{.Labels}}").stdout
    assert str(tmp_path) not in labels  # no job left its network behind


def _default_sigint() -> None:
    # A test run started in the background inherits SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored (no KeyboardInterrupt): the CLI must start with the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ctrl_c_stops_every_job_and_leaves_the_journal_resumable(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0.2)
    cli = launch(
        started,
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    wait_for_jobs(journal, 3)
    assert hosts_under(tmp_path)  # the jobs' hosts run
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=20)
    assert cli.returncode == 130 and "resume with --resume" in stderr
    records = Journal(journal).jobs()
    assert any(r.status is JobStatus.IN_PROGRESS for r in records)  # to be resumed, not lost
    assert wait_until(lambda: not hosts_under(tmp_path))  # nothing left running


def wait_until(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_second_rehearsal_of_a_journal_in_use_refuses_at_once(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0.05)
    command += ["--max-jobs", "6"]
    first = launch(started, command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_jobs(journal, 1)
    began = time.monotonic()
    second = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=30)
    assert second.returncode == 2, second.stderr
    assert time.monotonic() - began < 10  # at once: it waited for nothing
    assert f"journal {journal} is in use by pid {first.pid} since " in second.stderr
    assert "Traceback" not in second.stderr
    _, stderr = first.communicate(timeout=90)
    assert first.returncode == 0, stderr  # the first went on, untouched
    records = Journal(journal).jobs()
    assert len(records) == 6 and all(r.status in ENDED_WELL for r in records)
    for record in records:
        assert (tmp_path / "out" / "synthetic-hyperband" / record.name / "algo-1.log").exists()


def test_a_rehearsal_into_an_out_folder_in_use_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from smtune.containers.lock import LOCK_FILE
    from smtune.tuning.cli import main
    from tests.containers.test_lock import held_in_child

    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0)
    folder = tmp_path / "out" / "synthetic-hyperband"  # the tuning job's folder in --out
    log = folder / "synthetic-hyperband-001" / "algo-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("epoch 1: score=0.5\n")  # what the run in it has written so far
    with held_in_child(folder) as first:  # a run with another journal, or none, holding it
        began = time.monotonic()
        code = main([*command[3:], "--max-jobs", "1"])  # the journal itself is free
        took = time.monotonic() - began
    error = capsys.readouterr().err
    assert code == 2, error
    assert took < 1  # at once: it waited for nothing (the spec's checks included)
    assert f"{folder} (this tuning job's folder in --out) is in use by pid {first.pid} since " in (
        error
    )
    assert "choose another --out" in error and "Traceback" not in error
    assert not journal.exists()  # nothing read or written
    assert sorted(p.name for p in folder.rglob("*")) == [
        LOCK_FILE,
        "algo-1.log",
        "synthetic-hyperband-001",
    ]
    assert log.read_text() == "epoch 1: score=0.5\n"


def run_cli(command: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=60)


def test_a_channel_name_on_the_command_line_is_checked(tmp_path: Path) -> None:
    command, _ = cli_rehearsal(tmp_path, seconds_per_epoch=0)
    bad = f"../../x={tmp_path / 'train'}"
    result = run_cli(command, "--channel", bad, "--max-jobs", "1")
    assert result.returncode == 2, result.stderr
    assert f"--channel {bad!r}: channel name '../../x' is not allowed: must be" in result.stderr


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_journal_is_named_with_what_to_do(tmp_path: Path, damage: str) -> None:
    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0)
    assert run_cli(command, "--max-jobs", "2").returncode == 0
    whole = journal.read_bytes()
    journal.write_bytes(
        b"not a journal\n" * 300 if damage == "garbage" else whole[: len(whole) // 2]
    )
    result = run_cli(command, "--resume")
    assert result.returncode == 2, result.stderr
    assert f"smtune: error: the journal {journal} is damaged" in result.stderr
    assert "--resume needs the journal whole: remove it" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("option", "value"), [("--max-jobs", "0"), ("--max-parallel", "-1")])
def test_counts_below_one_are_refused(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from smtune.tuning.cli import parser

    with pytest.raises(SystemExit) as exit:
        parser().parse_args(["tune", "rehearse", "spec.yaml", option, value])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {value} is out of range: must be an integer >= 1" in err


def test_a_rehearsal_of_no_jobs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_jobs=0 is out of range: must be >= 1"):
        rehearse(tmp_path, spec_data(seconds_per_epoch=0), max_jobs=0)


class PrintsLines(ProcessBackend):
    """Hosts that print the given objective values as metric lines, then exit 0."""

    def __init__(self, values: list[str]) -> None:
        super().__init__()
        self.values = values

    def command(self, spec: Any) -> list[str]:
        lines = "".join(f"[{i}]\tvalidation-score:{v}\n" for i, v in enumerate(self.values))
        return [sys.executable, "-c", f"import sys; sys.stdout.write({lines!r})"]


@pytest.mark.parametrize(
    ("values", "judged"), [(["0.5", "nan", "0.6"], [0.5, 0.6]), (["nan", "-inf"], [])]
)
def test_a_non_finite_objective_is_its_own_finding(
    tmp_path: Path, values: list[str], judged: list[float]
) -> None:
    (tmp_path / "train").mkdir()
    data = spec_data(seconds_per_epoch=0)
    data["instance"]["count"] = 1
    journal = Journal(tmp_path / "journal.db")
    progress: list[str] = []
    rehearsal = Rehearsal(
        plan(parse(data), registry="local"),
        {"train": tmp_path / "train"},
        tmp_path / "jobs",
        journal,
        PrintsLines(values),
        max_jobs=1,
        on_progress=progress.append,
    )
    summary = rehearsal.run()
    finding = "synthetic-hyperband-001 printed a non-finite objective at [1]"
    if values[0] == "nan":
        finding = "synthetic-hyperband-001 printed a non-finite objective at [0]"
    assert len(summary.flags) == 1 and summary.flags[0].startswith(finding), summary.flags
    assert any(line.startswith(f"WARNING {finding}") for line in progress), progress
    # As on SageMaker, where the regex reads no number there: that line is not counted.
    assert [value for _, _, value, *_ in journal.observations()] == judged


def test_a_journal_keeps_its_bracket_policy_and_refuses_another(tmp_path: Path) -> None:
    command, journal = cli_rehearsal(tmp_path, seconds_per_epoch=0)
    first = run_cli(command, "--brackets", "hyperband", "--max-jobs", "6")
    assert first.returncode == 0, first.stderr
    other = run_cli(command, "--resume", "--max-jobs", "8")  # the default: asha
    assert other.returncode == 2, other.stderr  # bad input (containers.errors)
    assert "belongs to another spec, seed or bracket policy (this run: --brackets asha)" in (
        other.stderr
    )
    assert '"brackets": "hyperband"' in other.stderr  # what the journal was made with
    # The same policy replays the journal's brackets and decisions, then goes on.
    same = run_cli(command, "--resume", "--brackets", "hyperband", "--max-jobs", "8")
    assert same.returncode == 0, same.stderr
    assert [j.number for j in Journal(journal).jobs()] == list(range(1, 9))


def test_the_bracket_policy_changes_brackets_not_configurations(tmp_path: Path) -> None:
    jobs = {}
    for policy in BracketPolicy:
        data = spec_data(seconds_per_epoch=0)
        _, journal = rehearse(tmp_path / policy.value, data, brackets=policy)
        jobs[policy] = journal.jobs()
    assert {j.bracket for j in jobs[BracketPolicy.ASHA]} == {0}
    assert {j.bracket for j in jobs[BracketPolicy.HYPERBAND]} != {0}  # seed 42's draws
    hyperparameters = {p: [j.hyperparameters for j in js] for p, js in jobs.items()}
    assert hyperparameters[BracketPolicy.ASHA] == hyperparameters[BracketPolicy.HYPERBAND]


@pytest.mark.parametrize("policy", list(BracketPolicy))
def test_every_bracket_policy_is_an_option_of_rehearse(policy: BracketPolicy) -> None:
    from smtune.tuning.cli import parser

    args = parser().parse_args(["tune", "rehearse", "spec.yaml", "--brackets", policy.value])
    assert BracketPolicy(args.brackets) is policy
    assert parser().parse_args(["tune", "rehearse", "spec.yaml"]).brackets == "asha"
