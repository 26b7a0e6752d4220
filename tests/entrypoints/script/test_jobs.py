"""Script mode on 2 hosts of the process backend: a user's script runs unchanged with each
distribution, fails every host with its reason, and stops as SageMaker stops a job."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the script uses torch (the main venv has it)")

from smtune.containers.local.job import JobResult, JobStatus
from smtune.containers.local.process import ProcessBackend
from tests.entrypoints.script.conftest import (
    job_processes,
    nothing_left,
    script_job,
    wait_for,
)

DISTRIBUTIONS = ["none", "torch_distributed", pytest.param("mpi", marks=pytest.mark.horovod)]
HOW = {"none": "none", "torch_distributed": "torchrun", "mpi": "horovod"}  # what the script saw


def metric_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("epoch=")]


def failures(result: JobResult) -> dict[str, str]:
    return {h.host: h.failure or "" for h in result.hosts}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_two_hosts_run_the_script_unchanged(
    tmp_path: Path, source_dir: Path, train_data: Path, distribution: str
) -> None:
    out = tmp_path / "job"
    spec = script_job(
        out, source_dir.as_uri(), train_data, distribution, epochs=2, lr=0.05, optimizer="adam"
    )
    with nothing_left(out):
        result = ProcessBackend().run(spec)
        assert result.status is JobStatus.COMPLETED, result.reason
        model = json.loads((out / "algo-1" / "model" / "model.json").read_text())
        assert model["sum"] == 3.0 and model["world"] == 2 and model["rows"] == 3
        assert model["how"] == HOW[distribution]
        assert model["args"] == {"epochs": 2, "lr": 0.05, "optimizer": "adam",
                                 "behaviour": "train", "on_host": ""}  # fmt: skip
        assert metric_lines(result.leader_log) == ["epoch=0;loss=0.025;"]  # rank 0 alone
        assert metric_lines(out / "algo-2.log") == []
        assert (out / "algo-1" / "code" / "train.py").exists()  # fetched from file://
        assert job_processes(out) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("late", ["algo-1", "algo-2"])
def test_hosts_whose_scripts_end_apart_all_complete(
    tmp_path: Path, source_dir: Path, train_data: Path, late: str
) -> None:
    # The first host done waits for the others: the leader's going would look like a loss.
    out = tmp_path / "job"
    spec = script_job(out, source_dir.as_uri(), train_data, behaviour="finish-apart", on_host=late)
    with nothing_left(out):
        result = ProcessBackend().run(spec)
        assert result.status is JobStatus.COMPLETED, result.reason
        assert all(f"done on {h}" in (out / f"{h}.log").read_text() for h in spec.hosts)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("distribution", "where"),
    [
        ("none", "on host algo-2"),
        ("torch_distributed", "(rank 1, local rank 0 on host algo-2)"),
        pytest.param("mpi", "(rank 1, local rank 0 on host algo-2)", marks=pytest.mark.horovod),
    ],
)
def test_a_script_that_exits_non_zero_fails_every_host_naming_it(
    tmp_path: Path, source_dir: Path, train_data: Path, distribution: str, where: str
) -> None:
    out = tmp_path / "job"
    spec = script_job(
        out, source_dir.as_uri(), train_data, distribution,
        behaviour="exit3-after-join", on_host="algo-2",
    )  # fmt: skip
    with nothing_left(out):
        started = time.monotonic()
        result = ProcessBackend().run(spec)
        assert time.monotonic() - started < 30
        assert result.status is JobStatus.FAILED
        reasons = failures(result)
        assert all(h.exit_code == 1 and len(h.failure or "") <= 1024 for h in result.hosts)
        assert job_processes(out) == []
        if distribution == "mpi":
            # Horovod tells the other ranks of a failure before the failed process has ended
            # (its teardown shuts Horovod down first): algo-1 may fail first and be named by
            # algo-2. Either way algo-2's own reason and stderr are in its failure file.
            assert f"the training script train.py exited 3 {where}\n" in reasons["algo-2"]
            assert "boom after joining" in reasons["algo-2"]
            return
        first, *tail = reasons["algo-2"].splitlines()
        assert first == f"the training script train.py exited 3 {where}"
        assert "boom after joining" in "\n".join(tail)
        assert reasons["algo-1"].startswith("host algo-2 failed or was lost during training")


@pytest.mark.timeout(60)
def test_a_killed_script_is_named_with_its_signal(
    tmp_path: Path, source_dir: Path, train_data: Path
) -> None:
    out = tmp_path / "job"
    spec = script_job(out, source_dir.as_uri(), train_data, behaviour="sigkill", on_host="algo-2")
    with nothing_left(out):
        result = ProcessBackend().run(spec)
        assert result.status is JobStatus.FAILED
        reasons = failures(result)
        assert reasons["algo-2"].startswith(
            "the training script train.py was killed by SIGKILL on host algo-2"
        )
        assert reasons["algo-1"].startswith("host algo-2 failed or was lost during training")


@pytest.mark.timeout(60)
def test_a_syntax_error_fails_every_host_before_it_starts(
    tmp_path: Path, source_dir: Path, train_data: Path
) -> None:
    (source_dir / "broken.py").write_text("import os\ndef train(:\n    pass\n")
    out = tmp_path / "job"
    spec = script_job(out, source_dir.as_uri(), train_data, program="broken.py")
    with nothing_left(out):
        first = one_line_reason(ProcessBackend().run(spec))
        assert first.startswith("the training script broken.py has a syntax error at line 2")
        assert "(SyntaxError)" in first


@pytest.mark.timeout(60)
def test_a_syntax_error_in_a_module_the_script_imports_fails_with_the_traceback(
    tmp_path: Path, source_dir: Path, train_data: Path
) -> None:
    (source_dir / "helpers.py").write_text("def f(:\n    pass\n")
    (source_dir / "main.py").write_text("import helpers\n")
    out = tmp_path / "job"
    spec = script_job(out, source_dir.as_uri(), train_data, program="main.py", hosts=1)
    with nothing_left(out):
        result = ProcessBackend().run(spec)
        assert result.status is JobStatus.FAILED
        reason = failures(result)["algo-1"]
        assert reason.startswith("the training script main.py exited 1 on host algo-1\n")
        assert "SyntaxError" in reason and "helpers.py" in reason


def one_line_reason(result: JobResult) -> str:
    """Every host failed with the same reason, whose first line is what to fix."""
    assert result.status is JobStatus.FAILED
    assert all(h.exit_code == 1 for h in result.hosts)
    firsts = {h.failure.splitlines()[0] for h in result.hosts if h.failure}
    assert len(firsts) == 1 and len(result.hosts) == 2, failures(result)
    return firsts.pop()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing entry point", "sagemaker_program='nope.py' is not in the code"),
        ("corrupt archive", "is not a readable .tar.gz archive of the code"),
        ("missing source", "sagemaker_submit_directory='file:///no/such/dir' does not exist"),
        ("flag name", "hyperparameter name 'learning rate' cannot be a command-line flag"),
        ("distribution", "sagemaker_parameter_server_enabled=true asks for"),
    ],
)
def test_bad_input_fails_every_host_with_a_one_line_reason(
    tmp_path: Path, source_dir: Path, train_data: Path, case: str, reason: str
) -> None:
    out = tmp_path / "job"
    spec = script_job(out, source_dir.as_uri(), train_data)
    sent = dict(spec.hyperparameters)
    if case == "missing entry point":
        sent["sagemaker_program"] = json.dumps("nope.py")
    elif case == "corrupt archive":
        bad = tmp_path / "sourcedir.tar.gz"
        bad.write_bytes(b"\x1f\x8b\x08\x00 not an archive")
        sent["sagemaker_submit_directory"] = json.dumps(bad.as_uri())
    elif case == "missing source":
        sent["sagemaker_submit_directory"] = json.dumps("file:///no/such/dir")
    elif case == "flag name":
        sent["learning rate"] = "0.1"
    else:
        sent["sagemaker_parameter_server_enabled"] = "true"
    with nothing_left(out):
        result = ProcessBackend().run(replace(spec, hyperparameters=sent))
        assert reason in one_line_reason(result)


@pytest.mark.timeout(60)
def test_requirements_that_cannot_install_fail_every_host(
    tmp_path: Path, source_dir: Path, train_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (source_dir / "requirements.txt").write_text("smtune-no-such-package-here==1.0\n")
    # The hosts inherit this environment: an index that refuses at once, no retries.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    out = tmp_path / "job"
    with nothing_left(out):
        result = ProcessBackend().run(script_job(out, source_dir.as_uri(), train_data))
        first = one_line_reason(result)
        assert first.startswith("requirements.txt of the code could not be installed (pip exited")
        assert "smtune-no-such-package-here" in (out / "algo-1.log").read_text()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_sigterm_stops_the_script_and_the_job_ends_stopped(
    tmp_path: Path, source_dir: Path, train_data: Path, distribution: str
) -> None:
    out = tmp_path / "job"
    spec = script_job(out, source_dir.as_uri(), train_data, distribution, behaviour="sleep")
    with nothing_left(out), ProcessBackend().start(spec) as job:
        for host in spec.hosts:
            wait_for(spec.log_path(host), "ready on")
        job.stop()
        stopped_at = time.monotonic()
        result = job.wait()
        assert time.monotonic() - stopped_at < 10
        assert result.status is JobStatus.STOPPED, result.reason
        assert all(h.exit_code == 0 and h.failure is None for h in result.hosts)
        assert job_processes(out) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("distribution", ["none", "torch_distributed"])
def test_a_script_that_ignores_sigterm_is_killed_after_the_grace_and_the_job_stops(
    tmp_path: Path,
    source_dir: Path,
    train_data: Path,
    distribution: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTUNE_SCRIPT_STOP_GRACE", "2")
    out = tmp_path / "job"
    spec = script_job(
        out, source_dir.as_uri(), train_data, distribution, behaviour="ignore-sigterm"
    )
    with nothing_left(out), ProcessBackend().start(spec) as job:
        for host in spec.hosts:
            wait_for(spec.log_path(host), "ready on")
        job.stop()
        stopped_at = time.monotonic()
        result = job.wait()
        took = time.monotonic() - stopped_at
        assert 2 <= took < 15, took
        assert result.status is JobStatus.STOPPED, result.reason
        assert all(h.exit_code == 0 and h.failure is None for h in result.hosts)
        assert job_processes(out) == []


@pytest.mark.timeout(60)
def test_a_stop_while_requirements_install_ends_pip_and_the_job_stops(
    tmp_path: Path, source_dir: Path, train_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (source_dir / "requirements.txt").write_text("smtune-no-such-package-here==1.0\n")
    # An index that takes connections and never answers: pip waits on it.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/")
        monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "60")
        monkeypatch.delenv("PIP_NO_INDEX", raising=False)
        out = tmp_path / "job"
        spec = script_job(out, source_dir.as_uri(), train_data)
        with nothing_left(out), ProcessBackend().start(spec) as job:
            for host in spec.hosts:
                wait_for(spec.log_path(host), "installing requirements.txt")
            time.sleep(0.5)  # pip is running
            job.stop()
            result = job.wait()
            assert result.status is JobStatus.STOPPED, result.reason
            assert all(h.exit_code == 0 and h.failure is None for h in result.hosts)
            assert job_processes(out) == []
