"""A hung host (SIGSTOP: its sockets stay open, it just never answers) fails the job in time."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.xgboost.distributed import (
    COLLECTIVE_TIMEOUT_VARIABLE,
    DEFAULT_COLLECTIVE_TIMEOUT_S,
    collective_timeout_s,
)
from tests.conftest import RunJob

BOUND_S = 10
MARGIN_S = 10  # the heartbeat's own period, a slow start of the failure's write


def endless_job(data: Path, out: Path) -> JobSpec:
    return JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels={"train": ChannelSource("train", data / "train")},
        hyperparameters={"num_round": "1000000", "objective": "binary:logistic", "nthread": "1"},
        out=out,
        rendezvous_timeout_s=30,
        failure_grace_s=2,
    )


def wait_for_round(log: Path, round_: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and f"[{round_}]\t" in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"round {round_} never appeared in {log}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("hung", "reporter"), [("algo-2", "algo-1"), ("algo-1", "algo-2")])
def test_a_stopped_host_fails_the_job_within_the_bound_naming_it(
    toy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hung: str, reporter: str
) -> None:
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_VARIABLE, str(BOUND_S))
    with ProcessBackend().start(endless_job(toy, tmp_path / "job")) as job:
        group = job.processes[hung].pid  # type: ignore[attr-defined]
        try:
            wait_for_round(job.spec.log_path("algo-1"), 5)
            os.killpg(group, signal.SIGSTOP)
            stopped = time.monotonic()
            job.processes[reporter].wait(timeout=BOUND_S + MARGIN_S)  # type: ignore[attr-defined]
            detected_after = time.monotonic() - stopped
        finally:
            # A stopped process ignores everything but SIGKILL and SIGCONT.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
                os.killpg(group, signal.SIGCONT)
        result = job.wait()
    assert result.status is JobStatus.FAILED
    (other,) = [h for h in result.hosts if h.host == reporter]
    assert other.exit_code == 1 and other.failure is not None, other
    assert other.failure.startswith(f"host {hung} stopped answering"), other.failure
    assert f"{BOUND_S} s" in other.failure.splitlines()[0], other.failure
    assert BOUND_S - 1 <= detected_after <= BOUND_S + MARGIN_S, detected_after


def test_a_short_bound_does_not_fail_a_healthy_job(
    run_job: RunJob, toy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hosts leave at different times: one that left must not look hung to one still here.
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_VARIABLE, "1")
    result = run_job(
        toy / "train", {"num_round": 30, "objective": "binary:logistic", "nthread": 1}, hosts=3
    )
    assert result.status is JobStatus.COMPLETED, result.reason


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_a_bound_that_is_not_a_positive_number_of_seconds_is_refused(value: str) -> None:
    with pytest.raises(UserError, match=f"{COLLECTIVE_TIMEOUT_VARIABLE}='{value}' is out of"):
        collective_timeout_s({COLLECTIVE_TIMEOUT_VARIABLE: value})
    assert collective_timeout_s({}) == DEFAULT_COLLECTIVE_TIMEOUT_S <= 300
