"""A host process that SIGKILL ended: the job's reason says what the kernel can prove."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local import oom
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.process import ProcessBackend

# The host: it counts an OOM kill where the test says (its own), then SIGKILLs itself.
SIGKILLED = """
import os, pathlib, signal, sys
if len(sys.argv) > 1:
    count = pathlib.Path(sys.argv[1])
    kills = int(count.read_text().split()[1])
    count.write_text(f"oom_kill {kills + 1}\\n")
os.kill(os.getpid(), signal.SIGKILL)
"""


class Script(ProcessBackend):
    """Hosts that run a script of the test's, with its arguments."""

    def __init__(self, script: str, *args: str) -> None:
        super().__init__()
        self.script, self.args = script, args

    def command(self, spec: JobSpec) -> list[str]:
        return [self.python, "-c", self.script, *self.args]


def one_host(tmp_path: Path) -> JobSpec:
    return JobSpec(image("xgboost"), 1, {}, {}, tmp_path / "job")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The kernel as the test has it: an unreadable log, and a count of OOM kills in a file."""
    count = tmp_path / "vmstat"
    count.write_text("oom_kill 7\n")
    monkeypatch.setattr(oom, "KERNEL_LOG", tmp_path / "no-kmsg")
    monkeypatch.setattr(oom, "kill_count", lambda: oom.KillCount(count))
    return count


def test_a_sigkill_while_the_oom_killer_killed_nothing_is_not_blamed_on_memory(
    counted: Path, tmp_path: Path
) -> None:
    spec = one_host(tmp_path)
    result = Script(SIGKILLED).run(spec)
    assert result.status is JobStatus.FAILED and result.hosts[0].exit_code == -9
    assert result.reason == (
        "algo-1 was killed by SIGKILL, sent neither by smtune nor by the kernel's OOM killer "
        f"(it killed nothing on this machine while the job ran: oom_kill in {counted}); "
        f"see {spec.log_path('algo-1')}"
    )


def test_a_sigkill_while_the_oom_killer_killed_says_memory_likely_ran_out(
    counted: Path, tmp_path: Path
) -> None:
    spec = one_host(tmp_path)
    result = Script(SIGKILLED, str(counted)).run(spec)
    assert result.reason == (
        "algo-1 was killed by SIGKILL, not sent by smtune; the kernel's OOM killer killed 1 "
        f"process on this machine while the job ran (oom_kill in {counted}), so it likely ran "
        "out of memory: give it more memory or a larger instance type (`dmesg` names what was "
        f"killed); see {spec.log_path('algo-1')}"
    )


def test_a_sigkill_with_no_count_to_read_names_the_likely_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(oom, "KERNEL_LOG", tmp_path / "no-kmsg")
    monkeypatch.setattr(oom, "kill_count", lambda: None)
    spec = one_host(tmp_path)
    result = Script(SIGKILLED).run(spec)
    assert result.reason == (
        "algo-1 was killed by SIGKILL, not sent by smtune, without writing a failure reason; "
        "the kernel's OOM killer does this when memory runs out: check `dmesg`; "
        f"see {spec.log_path('algo-1')}"
    )


# The host: in a cgroup that allows it 48 MB, it takes 200 MB.
HOARD = """
import os, pathlib, sys
pathlib.Path(sys.argv[1], "cgroup.procs").write_text(str(os.getpid()))
hoard = b"x" * (200 * 2**20)
"""


@contextlib.contextmanager
def memory_cgroup(limit: int) -> Iterator[Path]:
    """A cgroup that allows `limit` bytes of memory and no swap (cgroup v2, else v1's memory
    controller); skips where this user cannot make one (not root, no controller)."""
    name = f"smtune-test-{uuid.uuid4().hex[:8]}"
    v2 = Path("/sys/fs/cgroup")
    controllers = v2 / "cgroup.subtree_control"
    v2_memory = controllers.exists() and "memory" in controllers.read_text().split()
    group = v2 / name if v2_memory else v2 / "memory" / name
    try:
        group.mkdir()
    except OSError as error:
        pytest.skip(f"cannot make a memory cgroup here: {error}")
    try:
        if v2_memory:
            (group / "memory.max").write_text(str(limit))
            (group / "memory.swap.max").write_text("0")
        else:
            (group / "memory.limit_in_bytes").write_text(str(limit))
            (group / "memory.swappiness").write_text("0")
        yield group
    finally:
        group.rmdir()  # its one process has ended


@pytest.mark.skipif(not os.access(oom.KERNEL_LOG, os.R_OK), reason="the kernel log is root's")
def test_a_host_the_oom_killer_killed_is_named_with_the_kernel_logs_record(
    tmp_path: Path,
) -> None:
    spec = one_host(tmp_path)
    with memory_cgroup(48 * 2**20) as group, Script(HOARD, str(group)).start(spec) as job:
        pid = job.processes["algo-1"].pid  # type: ignore[attr-defined]
        result = job.wait()
    assert result.status is JobStatus.FAILED and result.hosts[0].exit_code == -9
    assert result.reason is not None
    proven = re.fullmatch(
        r"algo-1 was killed by the kernel's OOM killer for want of memory \(the kernel log: "
        r'"(Memory cgroup out of memory: )?Killed process (\d+) \(python[\d.]*\)"\): give it '
        r"more memory or a larger instance type; see (.*)",
        result.reason,
    )
    assert proven is not None, result.reason
    assert proven[2] == str(pid) and proven[3] == str(spec.log_path("algo-1"))


def test_where_the_kernel_log_is_unreadable_the_oom_kill_count_says_memory_likely_ran_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(oom, "KERNEL_LOG", tmp_path / "no-kmsg")  # as dmesg_restrict has it
    spec = one_host(tmp_path)
    with memory_cgroup(48 * 2**20) as group:
        result = Script(HOARD, str(group)).run(spec)
    assert result.reason is not None
    assert re.fullmatch(
        r"algo-1 was killed by SIGKILL, not sent by smtune; the kernel's OOM killer killed \d+ "
        r"process(es)? on this machine while the job ran \(oom_kill in /proc/vmstat\), so it "
        r"likely ran out of memory: give it more memory or a larger instance type \(`dmesg` "
        r"names what was killed\); see .*",
        result.reason,
    ), result.reason
