"""Ending a killed run's leftovers: the hosts still running are ended, a reused pid is not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from containers.catalogue import image
from containers.local.job import JobSpec, RunningJob
from containers.local.process import HOSTS_FILE, ProcessBackend, start_time

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class Sleepers(ProcessBackend):
    """Hosts that only sleep: a job whose runner can "crash" while they run."""

    def command(self, spec: JobSpec) -> list[str]:
        return SLEEP


@pytest.fixture
def crashed(tmp_path: Path) -> Iterator[RunningJob]:
    """A 2-host job left running, as when its runner was killed; killed at the end anyway."""
    spec = JobSpec(image("xgboost"), 2, {}, {}, tmp_path / "job")
    job = Sleepers().start(spec)
    try:
        yield job
    finally:
        job.kill()


def test_a_crashed_runs_hosts_are_ended(crashed: RunningJob) -> None:
    ended = ProcessBackend().end_leftovers(crashed.spec.out)
    assert len(ended) == 2 and ended[0].startswith("algo-1 ")
    for process in crashed.processes.values():  # type: ignore[attr-defined]
        assert process.wait(timeout=10) < 0  # killed by a signal


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    """A recorded pid the kernel gave to another process (its own group leader) since."""
    other = subprocess.Popen(SLEEP, start_new_session=True)
    try:
        forged = {"algo-1": {"pid": other.pid, "start": start_time(other.pid) - 1}}  # type: ignore[operator]
        (tmp_path / HOSTS_FILE).write_text(json.dumps(forged))
        assert ProcessBackend().end_leftovers(tmp_path) == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_group_without_our_marker_is_left_alone(tmp_path: Path) -> None:
    """The leader is gone and another group of that number lives: not ours without the
    marker in its environment."""
    leader = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:])", *SLEEP],
        start_new_session=True,
    )
    leader.wait()  # its child, left in the group, sleeps on
    try:
        (tmp_path / HOSTS_FILE).write_text(json.dumps({"algo-1": {"pid": leader.pid, "start": 1}}))
        assert ProcessBackend().end_leftovers(tmp_path) == []
        os.killpg(leader.pid, 0)  # its group still lives
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
