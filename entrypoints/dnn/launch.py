"""The host side of a DNN job: check the input, meet the other hosts, start this host's workers.

Every host runs this as the image's `train` command. It validates hyperparameters and data
itself, so that bad input fails every host at once with one clear reason rather than as N
worker tracebacks; it joins the job's rendezvous (which names a lost host), then starts
`processes_per_host` workers with one of two launchers (`entrypoints.workers`, shared with
script mode):

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

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from smtune.entrypoints import workers
from smtune.entrypoints.contract.config import TrainingEnvironment
from smtune.entrypoints.contract.errors import (
    ERROR_KINDS,
    AlgorithmError,
    PlatformError,
    TrainingError,
    UserError,
)
from smtune.entrypoints.contract.hosts import LostHostWatch, peer_failure
from smtune.entrypoints.contract.lifecycle import StopFlag, crash_error, stoppable
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.contract.rendezvous import Rendezvous
from smtune.entrypoints.contract.topology import Port, Topology
from smtune.entrypoints.dnn.data import read_channel
from smtune.entrypoints.dnn.gpus import horovod_refusal
from smtune.entrypoints.dnn.hyperparameters import parse, processes_per_host
from smtune.entrypoints.dnn.worker import REPORTS_VARIABLE
from smtune.entrypoints.workers import descendants, kill_descendants

__all__ = ["descendants", "main"]  # descendants: for the tests that look for leftover workers

logger = logging.getLogger(__name__)

WORKER = [sys.executable, "-u", "-m", "smtune.entrypoints.dnn.worker"]
STOP_GRACE_S = 100.0  # SageMaker kills 120 s after SIGTERM: workers must have saved by then


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


def kill_workers() -> None:
    kill_descendants()


def run_torchrun(
    env: TrainingEnvironment, topology: Topology, processes: int, environ: dict[str, str]
) -> WorkerFailure | None:
    """Run this host's workers under torch's elastic agent; None when all succeeded or stopped."""
    resource = env.resource
    os.environ.update(environ)  # the agent passes its own environment on to the workers
    master = workers.Rendezvous(
        topology.ip_address(resource.leader), topology.port(Port.TORCH_MASTER), topology.timeout_s
    )
    # SIGTERM: the agent passes it to the workers, which checkpoint (if the job has a
    # CheckpointConfig) and end.
    nodes = len(resource.hosts)
    ended = workers.run_torchrun(nodes, resource.rank, master, processes, WORKER, STOP_GRACE_S)
    return None if ended is None else WorkerFailure(ended.rank, ended.local_rank, ended.exit_code)


def check_launcher(launcher: str, gpus: int) -> None:
    """A UserError, before any worker starts, when the launcher cannot use this host's GPUs."""
    if launcher != "horovod" or gpus == 0:
        return
    import horovod.torch as hvd

    refusal = horovod_refusal(gpus, bool(hvd.nccl_built()))
    if refusal is not None:
        raise refusal


def start_horovod_server(env: TrainingEnvironment, processes: int) -> tuple[Any, int]:
    """The leader's Horovod gloo rendezvous server, with every host's slots; and its port."""
    return workers.start_horovod_server(env.resource.hosts, processes)


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
    leader = topology.ip_address(resource.leader)
    common = workers.horovod_environment(resource, leader, server_port, processes)
    stop.raise_if_set()
    started: dict[int, tuple[int, workers.Worker]] = {}
    for local_rank in range(processes):
        slot = workers.horovod_slot(resource, processes, local_rank)
        process = subprocess.Popen(WORKER, env={**environ, **common, **slot})
        started[int(slot["HOROVOD_RANK"])] = (local_rank, workers.PopenWorker(process))
    # A worker our stop's SIGTERM found before its handler is in place is no failure; any
    # other non-zero exit is, even during a stop (its checkpoint may be missing).
    ended = workers.supervise(started, stop, STOP_GRACE_S, any_exit_after_stop=False)
    return None if ended is None else WorkerFailure(ended.rank, ended.local_rank, ended.exit_code)


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
            gpus = torch.cuda.device_count()  # the visible ones: CUDA_VISIBLE_DEVICES counts
            processes = processes_per_host(hp["processes_per_host"], os.cpu_count() or 1, gpus)
            check_launcher(hp["launcher"], gpus)
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
