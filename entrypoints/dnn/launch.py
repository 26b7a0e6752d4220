"""The host side of a DNN job: check the input, meet the other hosts, start this host's workers.

Every host runs this as the image's `train` command. It validates hyperparameters and data
itself, so that bad input fails every host at once with one clear reason rather than as N
worker tracebacks; it joins the job's rendezvous (which names a lost host), then starts
`processes_per_host` workers with one of two launchers:

- torchrun: torch's elastic launcher (what the `torchrun` command runs) with a static
  rendezvous: nnodes = hosts, node_rank = this host's index in sorted(hosts), master = the
  leader. It reports a failed worker by global rank.
- horovod: Horovod's gloo rendezvous server on the leader, whose port the leader announces
  in our rendezvous; every host starts its own workers with Horovod's variables. No sshd,
  no mpirun: nothing here needs a login to another host.

Workers talk over the interface resourceconfig.json names (SageMaker's `eth0`; `lo` for
local processes), never one a library guesses (NCCL or gloo picking `docker0` or `lo` on a
real cluster is the classic hang).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from entrypoints.contract.config import TrainingEnvironment
from entrypoints.contract.errors import (
    ERROR_KINDS,
    AlgorithmError,
    PlatformError,
    TrainingError,
    UserError,
)
from entrypoints.contract.hosts import LostHostWatch, peer_failure
from entrypoints.contract.lifecycle import StopFlag, crash_error, stoppable
from entrypoints.contract.paths import ContainerPaths
from entrypoints.contract.rendezvous import Rendezvous
from entrypoints.contract.topology import Port, Topology
from entrypoints.dnn.data import read_channel
from entrypoints.dnn.hyperparameters import parse, processes_per_host
from entrypoints.dnn.worker import REPORTS_VARIABLE

logger = logging.getLogger(__name__)

WORKER = [sys.executable, "-u", "-m", "entrypoints.dnn.worker"]
STOP_GRACE_S = 100.0  # SageMaker kills 120 s after SIGTERM: workers must have saved by then
FAILED_PEERS_GRACE_S = 10.0  # the other local workers' time to end after one failed


@dataclass(frozen=True)
class WorkerFailure:
    rank: int
    local_rank: int
    exit_code: int

    def error(self, host: str, reports: Path) -> TrainingError:
        """The worker's own error (same kind) if it left one, else how its process ended."""
        where = f"worker rank {self.rank} (local rank {self.local_rank}) on host {host}"
        report = reports / f"rank-{self.rank}"
        if report.exists():
            reported = json.loads(report.read_text())
            kind = ERROR_KINDS.get(reported["kind"], AlgorithmError)
            return kind(f"{where} failed: {reported['message']}")
        if self.signalled:
            return PlatformError(f"{where} was killed by {signal.Signals(-self.exit_code).name}")
        return AlgorithmError(f"{where} exited {self.exit_code} without a reason; see its log")

    @property
    def signalled(self) -> bool:
        return self.exit_code < 0


def check_data(env: TrainingEnvironment) -> dict[str, Any]:
    env.required_channel("train")
    return {name: len(read_channel(channel)) for name, channel in sorted(env.channels.items())}


def worker_environment(env: TrainingEnvironment, processes: int, reports: Path) -> dict[str, str]:
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    interface = env.resource.network_interface_name
    return {
        **os.environ,
        "OMP_NUM_THREADS": str(max(1, threads // processes)),
        "GLOO_SOCKET_IFNAME": interface,
        "NCCL_SOCKET_IFNAME": interface,
        REPORTS_VARIABLE: str(reports),
        "PYTHONUNBUFFERED": "1",
    }


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


def kill_workers() -> None:
    for pid in descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run_torchrun(
    env: TrainingEnvironment, topology: Topology, processes: int, environ: dict[str, str]
) -> WorkerFailure | None:
    """Run this host's workers under torch's elastic agent; None when all succeeded or stopped."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    resource = env.resource
    os.environ.update(environ)  # the agent passes its own environment on to the workers
    config = LaunchConfig(
        min_nodes=len(resource.hosts),
        max_nodes=len(resource.hosts),
        nproc_per_node=processes,
        run_id="smtune",
        rdzv_backend="static",
        rdzv_endpoint=f"{topology.ip_address(resource.leader)}:{topology.port(Port.TORCH_MASTER)}",
        rdzv_configs={"rank": resource.rank, "timeout": int(topology.timeout_s)},
        max_restarts=0,
        monitor_interval=0.2,
        start_method="spawn",
        shutdown_timeout=int(STOP_GRACE_S),
    )
    try:
        # Until the agent puts its own SIGTERM handler in place (just before it starts the
        # workers), a stop ends the launch at once.
        with stoppable():
            elastic_launch(config, entrypoint=WORKER[0])(*WORKER[1:])
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        return WorkerFailure(rank, failure.local_rank, failure.exitcode)
    except SignalException as exc:
        # SIGTERM: the agent passed it to the workers, which checkpointed (if the job has a
        # CheckpointConfig) and ended.
        logger.warning("stopped by signal %s; the workers have ended", exc.sigval)
    return None


def start_horovod_server(env: TrainingEnvironment, processes: int) -> tuple[Any, int]:
    """The leader's Horovod gloo rendezvous server, with every host's slots; and its port."""
    from horovod.runner.common.util.hosts import HostInfo, get_host_assignments
    from horovod.runner.http.http_server import RendezvousServer

    hosts = [HostInfo(host, processes) for host in env.resource.sorted_hosts]
    server = RendezvousServer()
    port = server.start()
    server.init(get_host_assignments(hosts, len(hosts) * processes))
    return server, port


def run_horovod(
    env: TrainingEnvironment,
    topology: Topology,
    processes: int,
    environ: dict[str, str],
    server_port: int,
    stop: StopFlag,
) -> WorkerFailure | None:
    """Start and watch this host's Horovod workers, as horovodrun's gloo mode would."""
    resource = env.resource
    hosts = resource.sorted_hosts
    common = {
        "HOROVOD_GLOO_RENDEZVOUS_ADDR": topology.ip_address(resource.leader),
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
    stop.raise_if_set()
    workers: dict[int, tuple[int, subprocess.Popen[bytes]]] = {}
    for local_rank in range(processes):
        rank = resource.rank * processes + local_rank
        slot = {"HOROVOD_RANK": str(rank), "HOROVOD_LOCAL_RANK": str(local_rank)}
        workers[rank] = (local_rank, subprocess.Popen(WORKER, env={**environ, **common, **slot}))
    failure: WorkerFailure | None = None
    stop_sent = ended_at = None
    while True:
        now = time.monotonic()
        running = [p for _, p in workers.values() if p.poll() is None]
        if failure is None:
            failure = next(
                (
                    WorkerFailure(r, lr, p.returncode)
                    for r, (lr, p) in workers.items()
                    # A worker our stop's SIGTERM found before its handler has stopped, too.
                    if p.returncode
                    and not (stop_sent is not None and p.returncode == -signal.SIGTERM)
                ),
                None,
            )
            if failure is not None:  # the others would only wait for it in a collective
                ended_at = now
                _signal(workers, signal.SIGTERM)
        if not running:
            return failure
        if stop.is_set() and stop_sent is None:
            stop_sent = now
            _signal(workers, signal.SIGTERM)
        if (ended_at and now - ended_at > FAILED_PEERS_GRACE_S) or (
            stop_sent and now - stop_sent > STOP_GRACE_S
        ):
            _signal(workers, signal.SIGKILL)
        time.sleep(0.1)


def _signal(workers: dict[int, tuple[int, subprocess.Popen[bytes]]], signum: int) -> None:
    for _, process in workers.values():
        if process.poll() is None:
            process.send_signal(signum)


def main(paths: ContainerPaths, stop: StopFlag) -> None:
    env = TrainingEnvironment.load(paths)
    hp = parse(env.hyperparameters)
    topology = Topology.from_environment(env.resource)
    resource = env.resource
    # What depends on this host (its CPUs, GPUs and data) fails after joining, so that every
    # host fails at once with the reason instead of waiting for this one to join: any
    # error, as a bug or a library's error on odd data would otherwise keep it from joining.
    error: TrainingError | None = None
    info: dict[str, Any] = {}
    server = None
    try:
        with stoppable():
            processes = processes_per_host(
                hp["processes_per_host"], os.cpu_count() or 1, torch.cuda.device_count()
            )
            info = {"processes": processes, "examples": check_data(env)}
            if hp["launcher"] == "horovod" and resource.is_leader:
                server, info["horovod_port"] = start_horovod_server(env, processes)
    except Exception as exc:
        error = crash_error(exc)
    watch = LostHostWatch(paths, before_exit=kill_workers)
    rendezvous = Rendezvous(topology, on_lost=watch)
    with tempfile.TemporaryDirectory(prefix="smtune-workers-") as reports:
        try:
            if error is not None:
                info["error"] = {"kind": error.kind, "message": error.message}
            infos = (
                rendezvous.join(info) if len(resource.hosts) > 1 else {resource.current_host: info}
            )
            if error is not None:
                raise error
            peer_error = peer_failure(infos, resource.current_host)
            if peer_error is not None:
                raise peer_error
            _same_processes(infos, processes)
            environ = worker_environment(env, processes, Path(reports))
            logger.info(
                "%s: %d hosts x %d workers, launcher %s, interface %s",
                resource.current_host, len(resource.hosts), processes, hp["launcher"],
                resource.network_interface_name,
            )  # fmt: skip
            if hp["launcher"] == "horovod":
                port = infos[resource.leader]["horovod_port"]
                failure = run_horovod(env, topology, processes, environ, port, stop)
            else:
                failure = run_torchrun(env, topology, processes, environ)
            if failure is not None:
                raise _failure_error(failure, resource.current_host, Path(reports), watch)
            watch.disarm()
            rendezvous.finish()
        finally:
            rendezvous.close()
            if server is not None:
                server.stop()


def _same_processes(infos: dict[str, Any], processes: int) -> None:
    counts = {host: info["processes"] for host, info in infos.items()}
    if len(set(counts.values())) > 1:
        raise UserError(
            f"hosts would run different numbers of workers ({counts}): set processes_per_host, "
            "or use hosts with as many GPUs each"
        )


def _failure_error(
    failure: WorkerFailure, host: str, reports: Path, watch: LostHostWatch
) -> TrainingError:
    """A worker of ours killed by a signal is the cause; else a lost peer host, if any, is
    (our workers then fail only because theirs vanished); else our worker's own reason."""
    if not failure.signalled and watch.wait(timeout_s=5.0) is not None:
        return watch.error()
    watch.disarm()
    return failure.error(host, reports)
