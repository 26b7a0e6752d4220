"""Why a host ended, beyond its exit code: above all, whether it was killed for memory.

A container's state says so (the docker backend reads it). A host process that SIGKILL ended
has only the kernel to tell. Its log (/dev/kmsg: root's, or anyone's where dmesg is not
restricted) names each process its OOM killer kills: a record naming the host's pid, logged
since the job started, proves it. Anyone can read the machine's count of those kills
(/proc/vmstat): one that rose while the job ran says only that the OOM killer killed
something on this machine; one that did not proves that it killed nothing, so something
else sent the SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

KERNEL_LOG = Path("/dev/kmsg")
PROC = Path("/proc")
#: What to do about a host killed for memory, as SageMaker's FailureReason advises.
MORE_MEMORY = "give it more memory or a larger instance type"
_LOG_LAG_S = 0.1
# "6,2034,20291551626,-;Memory cgroup out of memory: Killed process 15426 (python3) total-vm:..."
_KILLED = re.compile(r"^\d+,\d+,\d+,[^;]*;(.*Killed process (\d+) \([^)]*\))")


@dataclass(frozen=True)
class Ending:
    """Why a host ended, as the platform knows it beyond its exit code. `proven`: the platform
    saw the cause (a kill for memory), which then outranks what any host wrote."""

    text: str
    proven: bool = False


@dataclass(frozen=True)
class KillCount:
    """A file with a count of the OOM killer's kills: its `oom_kill` line."""

    path: Path

    def read(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            for line in self.path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return None


def kill_count() -> KillCount | None:
    """The machine's count of OOM kills; None where there is none (not Linux, a kernel
    before 4.13). Not the narrower count of smtune's cgroup (v2): a host may leave it, and
    then "it killed nothing there" would be false."""
    machine = KillCount(PROC / "vmstat")
    return machine if machine.read() is not None else None


def _log_from_now() -> int | None:
    """The kernel log, open at its end (where it can be read: dmesg_restrict), else None."""
    try:
        log = os.open(KERNEL_LOG, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        os.lseek(log, 0, os.SEEK_END)  # from the next record on
    except OSError:  # not a kernel log: records of old, reused pids would count
        os.close(log)
        return None
    return log


class OomWitness:
    """What the kernel says of its OOM killer from a job's start on: kept from then, so that
    neither an older record of a reused pid nor an older kill counts."""

    def __init__(self) -> None:
        self.count = kill_count()
        self.counted = self.count.read() if self.count is not None else None
        self.log = _log_from_now()
        self.killed: dict[int, str] = {}

    def _read_log(self) -> None:
        while self.log is not None:
            try:
                record = os.read(self.log, 8192)  # one record a read
            except BrokenPipeError:  # overwritten before we read it: on to the next
                continue
            except OSError:  # read all (EAGAIN)
                return
            if not record:
                return
            if match := _KILLED.match(record.decode(errors="replace")):
                self.killed[int(match[2])] = match[1]

    def ending(self, host: str, pid: int, code: int, log: Path) -> Ending | None:
        """Why `host`, process `pid`, ended with `code`: only a SIGKILL not ours is asked."""
        if code != -signal.SIGKILL:
            return None
        self._read_log()
        now = self.count.read() if self.count is not None else None
        if pid not in self.killed and self.log is not None and now != self.counted:
            # The OOM killer counts a kill, signals, then logs it: the log may lag its end.
            time.sleep(_LOG_LAG_S)
            self._read_log()
        if (record := self.killed.get(pid)) is not None:
            return Ending(
                f"{host} was killed by the kernel's OOM killer for want of memory (the kernel "
                f'log: "{record}"): {MORE_MEMORY}; see {log}',
                proven=True,
            )
        if self.count is None or self.counted is None or now is None:
            return Ending(
                f"{host} was killed by SIGKILL, not sent by smtune, without writing a failure "
                f"reason; the kernel's OOM killer does this when memory runs out: check "
                f"`dmesg`; see {log}"
            )
        counted = f"oom_kill in {self.count.path}"
        if now == self.counted:
            return Ending(
                f"{host} was killed by SIGKILL, sent neither by smtune nor by the kernel's OOM "
                f"killer (it killed nothing on this machine while the job ran: {counted}); "
                f"see {log}"
            )
        kills = now - self.counted
        return Ending(
            f"{host} was killed by SIGKILL, not sent by smtune; the kernel's OOM killer killed "
            f"{kills} process{'es' if kills > 1 else ''} on this machine while the job ran "
            f"({counted}), so it likely ran out of memory: {MORE_MEMORY} (`dmesg` names what "
            f"was killed); see {log}"
        )

    def close(self) -> None:
        if self.log is not None:
            os.close(self.log)
            self.log = None
