"""Start and supervise one host's training processes: torchrun's agent, or Horovod over gloo.

Shared by the built-in DNN (`entrypoints.dnn.launch`) and script mode (`entrypoints.script`),
which differ only in what the processes run and how a failure is told:

- torchrun: torch's elastic agent (what the `torchrun` command runs) in this process, with a
  static rendezvous: nnodes = hosts, node_rank = this host's index in sorted(hosts), the
  master = the leader. It reports the first failed process by global rank.
- Horovod: Horovod's gloo rendezvous server on the leader, whose port the leader announces in
  the job's own rendezvous; every host starts its own processes with Horovod's variables, as
  `horovodrun --gloo` would. No sshd, no mpirun: nothing here logs in to another host.

torch and Horovod are imported inside the functions that need them: the XGBoost image has
neither, and script mode without distribution needs neither.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from smtune.entrypoints.contract.config import ResourceConfig
from smtune.entrypoints.contract.lifecycle import StopFlag, Stopped, stoppable

logger = logging.getLogger(__name__)

FAILED_PEERS_GRACE_S = 10.0  # the other local processes' time to end after one failed
# A host told of a lost peer lets its processes end on their own this long before SIGTERM:
# one may already be ending with its own failure (a script's exit runs Horovod's shutdown,
# which fails the peer, whose loss is heard here before the exit is), and a SIGTERM then
# would turn its exit code into -15. Processes stuck in a collective with the peer fail
# by themselves sooner than this, or get the SIGTERM.
PEER_LOSS_GRACE_S = 3.0
_POLL_S = 0.1


@dataclass(frozen=True)
class WorkerExit:
    """How a training process that did not succeed ended."""

    rank: int
    local_rank: int
    exit_code: int  # negative: killed by that signal, as subprocess reports it

    @property
    def signalled(self) -> bool:
        return self.exit_code < 0

    def how(self) -> str:
        """'exited 3' or 'was killed by SIGKILL'."""
        if self.signalled:
            return f"was killed by {signal.Signals(-self.exit_code).name}"
        return f"exited {self.exit_code}"


def descendants(pid: int) -> list[int]:
    """Every descendant of `pid` (workers may run in sessions of their own)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def kill_descendants() -> None:
    """SIGKILL everything this process started: before it ends the host without cleanup."""
    for pid in descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Rendezvous:
    """Where torchrun's agents meet: the leader's address and port, and how long to wait."""

    master_addr: str
    master_port: int
    timeout_s: float


def run_torchrun(
    nodes: int,
    node_rank: int,
    rendezvous: Rendezvous,
    processes: int,
    command: Sequence[str],
    shutdown_timeout_s: float,
    stop_raises: bool = False,
    monitor_interval_s: float = 0.2,
) -> WorkerExit | None:
    """Run this host's `processes` copies of `command` under torch's elastic agent.

    `nodes`: the job's hosts; `node_rank`: this host's index in sorted(hosts).

    The agent passes this process's environment (os.environ) on to them, with torchrun's own
    variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, ...). On SIGTERM it
    passes the signal to each process's group and kills what is left after
    `shutdown_timeout_s`. Returns the first failed process, or None when all succeeded or a
    stop ended them; with `stop_raises`, a stop raises lifecycle.Stopped instead.
    `monitor_interval_s`: how often the agent looks at its processes.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=nodes,
        max_nodes=nodes,
        nproc_per_node=processes,
        run_id="smtune",
        rdzv_backend="static",
        rdzv_endpoint=f"{rendezvous.master_addr}:{rendezvous.master_port}",
        rdzv_configs={"rank": node_rank, "timeout": int(rendezvous.timeout_s)},
        max_restarts=0,
        monitor_interval=monitor_interval_s,
        start_method="spawn",
        shutdown_timeout=max(1, int(shutdown_timeout_s)),
    )
    try:
        # Until the agent puts its own SIGTERM handler in place (just before it starts the
        # processes), a stop ends the launch at once.
        with stoppable():
            elastic_launch(config, entrypoint=command[0])(*command[1:])
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        return WorkerExit(rank, failure.local_rank, failure.exitcode)
    except SignalException as exc:
        # SIGTERM: the agent passed it on, and the processes ended (or were killed).
        logger.warning("stopped by signal %s; this host's processes have ended", exc.sigval)
        if stop_raises:
            raise Stopped(f"stopped by signal {exc.sigval}") from exc
    return None


def start_horovod_server(hosts: Sequence[str], processes: int) -> tuple[Any, int]:
    """The leader's Horovod gloo rendezvous server, with every host's slots; and its port."""
    from horovod.runner.common.util.hosts import HostInfo, get_host_assignments
    from horovod.runner.http.http_server import RendezvousServer

    infos = [HostInfo(host, processes) for host in sorted(hosts)]
    server = RendezvousServer()
    port = server.start()
    server.init(get_host_assignments(infos, len(infos) * processes))
    return server, port


def horovod_environment(
    resource: ResourceConfig, server_address: str, server_port: int, processes: int
) -> dict[str, str]:
    """What `horovodrun --gloo` gives every process of this host (ranks come per process)."""
    hosts = resource.sorted_hosts
    return {
        "HOROVOD_GLOO_RENDEZVOUS_ADDR": server_address,
        "HOROVOD_GLOO_RENDEZVOUS_PORT": str(server_port),
        "HOROVOD_CONTROLLER": "gloo",
        "HOROVOD_CPU_OPERATIONS": "gloo",
        "HOROVOD_GLOO_IFACE": resource.network_interface_name,
        "HOROVOD_HOSTNAME": resource.current_host,
        "HOROVOD_SIZE": str(len(hosts) * processes),
        "HOROVOD_LOCAL_SIZE": str(processes),
        "HOROVOD_CROSS_RANK": str(resource.rank),
        "HOROVOD_CROSS_SIZE": str(len(hosts)),
    }


def horovod_slot(resource: ResourceConfig, processes: int, local_rank: int) -> dict[str, str]:
    rank = resource.rank * processes + local_rank
    return {"HOROVOD_RANK": str(rank), "HOROVOD_LOCAL_RANK": str(local_rank)}


class Worker(Protocol):
    """A started process, as `supervise` watches it."""

    def poll(self) -> int | None: ...

    def signal(self, signum: int) -> None: ...


class PopenWorker:
    """A Worker over a plain Popen (signals go to the process itself)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def poll(self) -> int | None:
        return self.process.poll()

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)


def supervise(
    workers: Mapping[int, tuple[int, Worker]],
    stop: StopFlag,
    stop_grace_s: float,
    failed_peers_grace_s: float = FAILED_PEERS_GRACE_S,
    interrupted: Callable[[], bool] = lambda: False,
    any_exit_after_stop: bool = True,
    poll_s: float = _POLL_S,
    on_failure: Callable[[WorkerExit], None] = lambda failure: None,
) -> WorkerExit | None:
    """Wait for a host's processes (rank: (local rank, worker)); the first failure, or None.

    A failure SIGTERMs the others (they would only wait for it in a collective) and kills
    them after `failed_peers_grace_s`. A stop SIGTERMs every one and kills what is left after
    `stop_grace_s`; a process that then ends in any way is no failure (with
    `any_exit_after_stop` False, only one our SIGTERM found before its handler was in place
    is excused: for processes that handle it and exit 0). `interrupted` says that something
    else (a lost peer host) means the processes should end as on a failure, after
    PEER_LOSS_GRACE_S in which an exit of their own still counts as theirs. `poll_s`: how
    often the processes are looked at (how late a failure may be seen); `on_failure` is
    called as soon as a failure is seen, before the others have ended.
    """
    failure: WorkerExit | None = None
    stop_sent = ended_at = None  # when our SIGTERM went out: for a stop, for a failure
    interrupted_at: float | None = None
    killed = False
    while True:
        now = time.monotonic()
        codes = {rank: worker.poll() for rank, (_, worker) in workers.items()}
        if stop.is_set() and stop_sent is None and ended_at is None:
            stop_sent = now
            _signal_all(workers, signal.SIGTERM)
        if ended_at is None:
            excused = _excused(stop_sent is not None, any_exit_after_stop)
            failure = next(
                (
                    WorkerExit(rank, workers[rank][0], code)
                    for rank, code in codes.items()
                    if code and not excused(code)  # None: running; 0: succeeded
                ),
                None,
            )
            if failure is not None:
                on_failure(failure)
            elif stop_sent is None and interrupted_at is None and interrupted():
                interrupted_at = now
            # The others would only wait for the failed one (or the lost peer) in a collective.
            if failure is not None or (
                interrupted_at is not None and now - interrupted_at >= PEER_LOSS_GRACE_S
            ):
                ended_at = now
                _signal_all(workers, signal.SIGTERM)
        if all(code is not None for code in codes.values()):
            return failure
        if (ended_at is not None and now - ended_at > failed_peers_grace_s) or (
            stop_sent is not None and now - stop_sent > stop_grace_s
        ):
            if not killed:
                logger.warning("processes still running after SIGTERM: killed")
                killed = True
            _signal_all(workers, signal.SIGKILL)
        time.sleep(poll_s)


def _excused(stopping: bool, any_exit: bool) -> Callable[[int], bool]:
    if not stopping:
        return lambda code: False
    return (lambda code: True) if any_exit else (lambda code: code == -signal.SIGTERM)


def _signal_all(workers: Mapping[int, tuple[int, Worker]], signum: int) -> None:
    for _, worker in workers.values():
        worker.signal(signum)
