"""Ending a killed run's leftovers: the hosts still running are ended, a reused pid is not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec, RunningJob
from smtune.containers.local.process import HOSTS_FILE, ProcessBackend, start_time

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


class Orphaning(ProcessBackend):
    """Hosts whose main process starts a sleeper in its group, writes its pid, and ends."""

    def command(self, spec: JobSpec) -> list[str]:
        start = "import subprocess, sys; print(subprocess.Popen(sys.argv[1:]).pid, flush=True)"
        return [sys.executable, "-c", start, *SLEEP]


def test_what_a_crashed_runs_host_left_in_its_group_is_ended(tmp_path: Path) -> None:
    spec = JobSpec(image("xgboost"), 1, {}, {}, tmp_path / "job")
    job = Orphaning().start(spec)
    try:
        leader = job.processes["algo-1"]  # type: ignore[attr-defined]
        leader.wait(timeout=10)
        log = spec.log_path("algo-1")
        deadline = time.monotonic() + 10
        while not log.read_text().endswith("\n") and time.monotonic() < deadline:
            time.sleep(0.05)  # the pump copies the sleeper's pid
        sleeper = int(log.read_text())
        assert _alive(sleeper)  # its host's main process has ended, not it
        assert ProcessBackend().end_leftovers(spec.out) == [f"algo-1 (process group {leader.pid})"]
        assert not _alive(sleeper)
    finally:
        job.kill()


def _alive(pid: int) -> bool:
    """Running: not gone, not a zombie (this container's init may not reap orphans)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


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
