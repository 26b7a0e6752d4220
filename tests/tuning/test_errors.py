"""Host-side errors and exit codes, mapped in one place (containers.errors): 2 bad input,
1 a failed job or AWS/Docker saying no, 3 a stopped job; a bug stays a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.stub import Stubber

from smtune.containers.errors import BadInput, ExitCode, exit_for, job_exit_code
from smtune.containers.local.docker import DockerError
from smtune.containers.status import JobStatus
from smtune.tuning import sagemaker
from smtune.tuning.cli import main
from smtune.tuning.journal import JournalError
from smtune.tuning.planning.planner import plan
from smtune.tuning.rehearsal.runner import RehearsalError
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, load
from tests.tuning.conftest import SEED
from tests.tuning.test_sagemaker import NAME, description


def smtune(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    """`smtune ARGS` in a fresh interpreter, after `code` (a test's patch)."""
    program = (
        f"{textwrap.dedent(code)}\nfrom smtune.tuning.cli import main\nraise SystemExit(main())"
    )
    return subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=60
    )


def test_bad_input_exits_2_with_its_message_and_no_traceback(tmp_path: Path) -> None:
    result = smtune("data", "mnist", "--source", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"smtune: error: --source={tmp_path / 'nope'} is not a folder\n"


def test_a_bug_is_a_traceback_even_a_value_error_of_the_scheduler() -> None:
    # The scheduler's invariants raise ValueError: a bug of ours, never the user's input.
    bug = """
        import smtune.tuning.commands
        from smtune.tuning.amt.ranges import IntRange, Scaling
        from smtune.tuning.schedulers.hyperband import HyperbandScheduler

        def status(args):
            space = {"x": IntRange(1, 9, Scaling.LINEAR)}
            scheduler = HyperbandScheduler(space, 1, 9, maximize=True)
            scheduler.on_result("never-suggested", 1, 0.5)

        smtune.tuning.commands._status = status
    """
    result = smtune("tune", "status", "some-job", code=bug)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: job 'never-suggested' was never suggested" in result.stderr
    assert "smtune: error" not in result.stderr


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (BadInput("--hosts=0 is out of range"), 2, "smtune: error: --hosts=0 is out of range"),
        (SpecError("s.yaml", ["name: bad"]), 2, "smtune: error: s.yaml is not a valid"),
        (JournalError("the journal j.db is damaged"), 2, "smtune: error: the journal j.db"),
        (RehearsalError("the regex read nothing"), 2, "smtune: rehearsal stopped: the regex"),
        (DockerError("docker run failed: no"), 1, "smtune: error: docker run failed: no"),
        (NoCredentialsError(), 1, "smtune: AWS error: Unable to locate credentials"),
        (
            ClientError({"Error": {"Code": "ResourceNotFound", "Message": "no job"}}, "Describe"),
            1,
            "smtune: AWS error: An error occurred (ResourceNotFound)",
        ),
    ],
)
def test_each_kind_of_error_has_its_exit_code(error: Exception, code: int, line: str) -> None:
    handled = exit_for(error)
    assert handled is not None and handled[0] == code and handled[1].startswith(line)


def test_aws_errors_are_known_by_their_type_not_their_module_name() -> None:
    lookalike = type("ClientError", (Exception,), {"__module__": "botocore.exceptions"})
    assert exit_for(lookalike("not from botocore")) is None
    assert exit_for(ValueError("a bug")) is None and exit_for(KeyError("x")) is None


def test_a_jobs_status_has_its_exit_code() -> None:
    assert job_exit_code(JobStatus.COMPLETED) is ExitCode.OK
    assert job_exit_code(JobStatus.FAILED) == 1 and job_exit_code(JobStatus.STOPPED) == 3
    with pytest.raises(KeyError):  # a job still running has no exit code: asking is a bug
        job_exit_code(JobStatus.IN_PROGRESS)


@pytest.mark.parametrize(
    ("status", "code"), [("Completed", 0), ("Failed", 1), ("Stopped", 3), ("Deleted", 1)]
)
def test_submit_wait_exits_with_the_tuning_jobs_end(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
    code: int,
) -> None:
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    arn = description(status)["HyperParameterTuningJobArn"]
    with Stubber(sm) as stub:
        stub.add_response(
            "create_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobArn": arn},
            build_request(plan(load(SEED))),
        )
        stub.add_response(
            "describe_hyper_parameter_tuning_job",
            description(status),
            {"HyperParameterTuningJobName": NAME},
        )
        monkeypatch.setattr(sagemaker, "client", lambda region=None: sm)
        assert main(["tune", "submit", str(SEED), "--wait"]) == code
        stub.assert_no_pending_responses()
    assert capsys.readouterr().out.startswith(f"{arn}\n{NAME}: {status}")


def test_an_aws_error_from_a_command_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sm: Any = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(sm) as stub:
        stub.add_client_error(
            "describe_hyper_parameter_tuning_job",
            service_error_code="ResourceNotFound",
            service_message=f"Amazon SageMaker can't find a tuning job named {NAME}",
        )
        monkeypatch.setattr(sagemaker, "client", lambda region=None: sm)
        assert main(["tune", "status", NAME]) == 1
    err = capsys.readouterr().err
    assert err.startswith("smtune: AWS error: An error occurred (ResourceNotFound)")
    assert err.count("\n") == 1
