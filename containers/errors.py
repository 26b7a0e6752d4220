"""Errors on the host side (the CLI, local backends, tuning) and the exit code of each.

This is the one place that maps how a command ended to its exit code: `job_exit_code` for a job
that ran (0 Completed, 1 Failed, 3 Stopped), `exit_for` for an error (2 bad input, 1 a tool
such as Docker or AWS said no). Any other error is a bug and stays a traceback: a plain
ValueError included (the scheduler's invariants raise those), so that a bug is never shown
as the user's mistake.
"""

from __future__ import annotations

import enum
import sys

from smtune.containers.status import JobStatus


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    STOPPED = 3


class HostError(Exception):
    """Base class: a failure the user is told of in a line, not a traceback."""

    exit_code = ExitCode.FAILED
    label = "error"


class BadInput(HostError, ValueError):
    """Input the user can fix (a spec, an option, a file, a journal); the message names the
    field, the value and the rule. A ValueError too, as any bad value is."""

    exit_code = ExitCode.BAD_INPUT


class Problems(BadInput):
    """Input with every problem found, one line each in `problems`: a user fixes them all in
    one go. Subclasses name what the input should have been (`kind`)."""

    kind = "input"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source} is not a valid {self.kind}:\n{listed}")


class ToolError(HostError):
    """A tool the host side drives (Docker) refused; the message is the tool's own."""


EXIT_CODES = {
    JobStatus.COMPLETED: ExitCode.OK,
    JobStatus.FAILED: ExitCode.FAILED,
    JobStatus.STOPPED: ExitCode.STOPPED,
}


def job_exit_code(status: JobStatus) -> ExitCode:
    """The exit code of a command whose job ended with `status`."""
    return EXIT_CODES[status]


def is_aws_error(error: BaseException) -> bool:
    """Whether boto3 or botocore raised `error` (credentials, a missing job, no network).

    Their types are imported only where they are loaded already: an error of theirs cannot
    exist otherwise, and `smtune --help` stays light.
    """
    kinds: list[type[BaseException]] = []
    if "botocore.exceptions" in sys.modules:
        from botocore.exceptions import BotoCoreError, ClientError

        kinds += [BotoCoreError, ClientError]
    if "boto3.exceptions" in sys.modules:
        from boto3.exceptions import Boto3Error

        kinds.append(Boto3Error)
    return isinstance(error, tuple(kinds))


def exit_for(error: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and the line to print for `error`; None for a bug (let it raise)."""
    if isinstance(error, HostError):
        return error.exit_code, f"smtune: {error.label}: {error}"
    if is_aws_error(error):
        return ExitCode.FAILED, f"smtune: AWS error: {error}"
    return None
