"""The process backend: every host of a job is a process on this machine.

Host names stay algo-1..N. They don't resolve here, so the hosts learn each other's
addresses (all loopback) and a block of free ports from variables SageMaker never sets;
jobs running side by side get different blocks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from smtune.containers.local.job import (
    Backend,
    HostResult,
    JobResult,
    JobSpec,
    JobStatus,
    RunningJob,
    read_failure,
)
from smtune.containers.local.oom import Ending, OomWitness
from smtune.entrypoints.contract.paths import BASE_DIR_VARIABLE, ContainerPaths
from smtune.entrypoints.contract.topology import (
    HOST_ADDRESSES_VARIABLE,
    PORT_BASE_VARIABLE,
    PORT_BLOCK_SIZE,
    TIMEOUT_VARIABLE,
)

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Below Linux's ephemeral range (32768+), where the hosts' own sockets get their ports.
_PORT_RANGE = (12000, 32000)
_reserved: set[int] = set()
_reserved_lock = threading.Lock()
# How often a waiting job checks its deadlines (grace periods, MaxRuntime); a host's end
# wakes it at once where the OS can tell (pidfd).
_POLL_S = 0.1
_NO_PIDFD_POLL_S = 0.01  # elsewhere: how long a job may take to see a host end
#: In every host's environment: marks its processes as the job's whose folder it names.
JOB_DIR_VARIABLE = "SMTUNE_JOB_DIR"
#: In a job's folder: each host's pid and start time, for end_leftovers after a crash.
HOSTS_FILE = "hosts.json"
_LEFTOVER_WAIT_S = 5.0


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def reserve_port_block(size: int = PORT_BLOCK_SIZE) -> int:
    """The first port of `size` consecutive free ports no other job of this process holds."""
    with _reserved_lock:
        for _ in range(200):
            base = random.randrange(_PORT_RANGE[0], _PORT_RANGE[1] - size, size)
            block = range(base, base + size)
            if _reserved.isdisjoint(block) and all(_free(p) for p in block):
                _reserved.update(block)
                return base
    raise RuntimeError(f"found no {size} free consecutive ports in {_PORT_RANGE}")


def release_port_block(base: int, size: int = PORT_BLOCK_SIZE) -> None:
    with _reserved_lock:
        _reserved.difference_update(range(base, base + size))


def _pump(stream: IO[bytes], log: Path, echo: bool) -> None:
    """Copy a host's output to its log file, and to our stdout for the leader."""
    with log.open("ab") as sink:
        for line in iter(stream.readline, b""):
            sink.write(line)
            sink.flush()
            if echo:
                sys.stdout.write(line.decode(errors="replace"))
                sys.stdout.flush()
    stream.close()


class ProcessJob(RunningJob):
    def __init__(
        self,
        spec: JobSpec,
        trees: dict[str, ContainerPaths],
        processes: dict[str, subprocess.Popen[bytes]],
        pumps: list[threading.Thread],
        port_base: int | None,
        witness: OomWitness | None = None,
    ) -> None:
        super().__init__(spec, trees)
        self.witness = witness
        self.processes = processes
        self.pumps = pumps
        self.port_base = port_base
        self.exit_order: list[str] = []
        self.notes: list[str] = []
        self.failed_at: float | None = None
        self.endings: dict[str, Ending] = {}
        self.killing = False  # from here on, hosts end by our SIGKILL
        self.exits = ExitWatch(processes)

    def _signal_stop(self) -> None:
        # Like `docker stop`: SIGTERM to the host's main process, which passes it on.
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.killing = True
        for process in self.processes.values():
            # The whole group, even when the host's main process is gone: what it started
            # must not outlive the job, as nothing outlives a container.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self._release()

    def wait(self) -> JobResult:
        while (result := self.poll()) is None:
            running = [h for h in self.processes if h not in self.exit_order]
            self.exits.sleep(running, _POLL_S)
        return result

    def poll(self) -> JobResult | None:
        """One supervision step: the result once every host has ended, else None."""
        for host, process in self.processes.items():
            if host not in self.exit_order and process.poll() is not None:
                self.exit_order.append(host)
                if process.returncode != 0:
                    self._failed(host, process.returncode)
        running = [h for h, p in self.processes.items() if p.poll() is None]
        if running:
            now = time.monotonic()
            if self.failed_at is not None and now - self.failed_at > self.spec.failure_grace_s:
                self.notes.append(
                    f"hosts {', '.join(running)} did not end within "
                    f"{self.spec.failure_grace_s:g} s of a failed host: killed"
                )
                self.kill()
            elif self.stop_time is not None and now - self.stop_time > self.spec.stop_grace_s:
                self.notes.append(
                    f"hosts {', '.join(running)} did not stop within "
                    f"{self.spec.stop_grace_s:g} s of SIGTERM: killed"
                )
                self.kill()
            elif self.spec.max_run_s is not None and now - self.started > self.spec.max_run_s:
                self.stop("MaxRuntimeExceeded")
            return None
        for pump in self.pumps:
            pump.join()
        self._release()
        return self._result(self.notes)

    def _release(self) -> None:
        self.exits.close()
        if self.witness is not None:
            self.witness.close()
        if self.port_base is not None:
            release_port_block(self.port_base)
            self.port_base = None

    def _result(self, notes: list[str]) -> JobResult:
        hosts = tuple(
            HostResult(
                host=host,
                exit_code=self.processes[host].returncode,
                failure=read_failure(self.trees[host]),
                log=self.spec.log_path(host),
            )
            for host in self.spec.hosts
        )
        wall = time.monotonic() - self.started
        if self.stop_reason is not None and not any(h.failure for h in hosts):
            return JobResult(JobStatus.STOPPED, hosts, wall, self.stop_reason, tuple(notes))
        if all(h.exit_code == 0 for h in hosts):
            return JobResult(JobStatus.COMPLETED, hosts, wall, None, tuple(notes))
        return JobResult(JobStatus.FAILED, hosts, wall, self._failure_reason(hosts), tuple(notes))

    def _failed(self, host: str, code: int) -> None:
        if self.failed_at is None:
            self.failed_at = time.monotonic()
        # Asked now: what tells why may not last (a container, a kernel log's record).
        if not self.killing and (ending := self._ending(host, code)) is not None:
            self.endings[host] = ending

    def _ending(self, host: str, code: int) -> Ending | None:
        """Why `host` ended with `code`, beyond the code; called as its end is seen, while
        what tells is still there. None: nothing more to say."""
        if self.witness is None:
            return None
        pid = self.processes[host].pid
        return self.witness.ending(host, pid, code, self.spec.log_path(host))

    def _failure_reason(self, hosts: tuple[HostResult, ...]) -> str:
        """A cause the platform saw (the first host killed for memory); else the leader's
        reason (it names the host at fault), else the first host's to fail."""
        by_host = {h.host: h for h in hosts}
        for host in self.exit_order:
            if (ending := self.endings.get(host)) is not None and ending.proven:
                return ending.text
        for host in [self.spec.hosts[0], *self.exit_order]:
            if by_host[host].failure:
                return f"{host}: {by_host[host].failure}"
        first = by_host[self.exit_order[0]] if self.exit_order else hosts[0]
        if (ending := self.endings.get(first.host)) is not None:
            return ending.text
        code = first.exit_code
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
        return f"{first.host} {how} without writing a failure reason; see {first.log}"


class ExitWatch:
    """Sleeps until one of some hosts' processes ends, or a timeout: a pidfd per process
    (Linux) becomes readable when it ends. Without pidfds it just sleeps the timeout."""

    def __init__(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        self.fds: dict[str, int] = {}
        for host, process in processes.items():
            try:
                self.fds[host] = os.pidfd_open(process.pid)
            except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
                self.close()
                break

    def sleep(self, hosts: list[str], timeout: float) -> None:
        fds = [self.fds[h] for h in hosts if h in self.fds]
        if not fds:
            time.sleep(min(timeout, _NO_PIDFD_POLL_S))
            return
        readable = select.poll()  # not select.select: it refuses descriptors >= 1024
        for fd in fds:
            readable.register(fd, select.POLLIN)
        readable.poll(timeout * 1000)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def start_logged(
    command: list[str], log: Path, echo: bool, **popen: Any
) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """Start a host's process with its output (stdout and stderr, as CloudWatch has them) going
    to its log file, and to our stdout when `echo`."""
    log.unlink(missing_ok=True)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us, not the hosts; we stop them
        **popen,
    )
    assert process.stdout is not None
    pump = threading.Thread(target=_pump, args=(process.stdout, log, echo), daemon=True)
    pump.start()
    return process, pump


def host_environment(spec: JobSpec, tree: ContainerPaths, port_base: int) -> dict[str, str]:
    """The environment of one host's process: its tree, its peers' addresses, the ports."""
    threads = str(max(1, (os.cpu_count() or 1) // spec.host_count))
    return {
        **os.environ,
        BASE_DIR_VARIABLE: str(tree.root),
        HOST_ADDRESSES_VARIABLE: json.dumps({host: LOOPBACK for host in spec.hosts}),
        PORT_BASE_VARIABLE: str(port_base),
        JOB_DIR_VARIABLE: str(spec.out),
        TIMEOUT_VARIABLE: str(spec.rendezvous_timeout_s),
        "PYTHONUNBUFFERED": "1",
        # Hosts share this machine's cores, as `docker run --cpus` would split them.
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads),
    }


class ProcessBackend(Backend):
    """Runs each host as `python -m <image module>` with its own SAGEMAKER_BASE_DIR."""

    network_interface = "lo"  # every host is on this machine's loopback

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def command(self, spec: JobSpec) -> list[str]:
        return [self.python, "-m", spec.image.module]

    def _launch(self, spec: JobSpec, trees: dict[str, ContainerPaths], echo: bool) -> RunningJob:
        port_base = reserve_port_block()
        witness = OomWitness()  # before the hosts: what the kernel says from their start on
        processes, pumps = {}, []
        try:
            for host in spec.hosts:
                processes[host], pump = start_logged(
                    self.command(spec),
                    spec.log_path(host),
                    echo=echo and host == spec.hosts[0],
                    cwd=trees[host].root,
                    env=host_environment(spec, trees[host], port_base),
                )
                pumps.append(pump)
                record_hosts(spec.out, processes)
        except BaseException:
            for process in processes.values():
                os.killpg(process.pid, signal.SIGKILL)
            release_port_block(port_base)
            witness.close()
            raise
        return ProcessJob(spec, trees, processes, pumps, port_base, witness)

    def end_leftovers(self, out: Path) -> list[str]:
        """Kill the process group of each host recorded in `out`'s hosts file that is still
        the one we started: a pid the kernel has since given to another process is left
        alone."""
        out = out.resolve()
        record = out / HOSTS_FILE
        try:
            hosts = json.loads(record.read_text())
        except FileNotFoundError:
            return []
        marker = f"{JOB_DIR_VARIABLE}={out}".encode()
        ended = []
        for host, seen in hosts.items():
            pid = seen["pid"]
            if _is_ours(pid, seen["start"], marker):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                    ended.append(f"{host} (process group {pid})")
                _wait_group_gone(pid)
        record.unlink()
        return ended


def record_hosts(out: Path, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Write each host's pid and start time; replaced whole, so a crash never leaves half."""
    hosts = {host: {"pid": p.pid, "start": start_time(p.pid)} for host, p in processes.items()}
    partial = out / f".{HOSTS_FILE}.tmp"
    partial.write_text(json.dumps(hosts, indent=2) + "\n")
    os.replace(partial, out / HOSTS_FILE)


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on: the command name before it may hold
    spaces and parentheses. None when there is no such process (or no /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (field 22): with the pid, it names one
    process for as long as the machine runs, when a pid alone may be reused."""
    fields = _stat(pid)
    return int(fields[22 - 3]) if fields else None


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid` (field 5)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [
        pid
        for pid in pids
        if (fields := _stat(pid)) and int(fields[5 - 3]) == pgid and fields[0] != "Z"
    ]


def _carries(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's
        return False


def _is_ours(pid: int, start: int | None, marker: bytes) -> bool:
    """Whether the process group `pid` is still the host we started as `pid` at `start`.

    While its leader lives, its start time tells (a pid and a start time name one process
    since boot; an exec keeps both). Once the leader has ended, the kernel gives its pid to
    no new process while the group lives on, so members of a group of that number are the
    leader's; they must carry our marker too (an inherited environment).
    """
    leader = start_time(pid)
    if leader is not None:
        return start is not None and leader == start
    return any(_carries(member, marker) for member in _group(pid))


def _wait_group_gone(pgid: int) -> None:
    """Until SIGKILL has ended the group: a new run must not find it still writing."""
    deadline = time.monotonic() + _LEFTOVER_WAIT_S
    while _group(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
