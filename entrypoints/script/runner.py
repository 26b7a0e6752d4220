"""The host side of script mode: prepare the script, meet the other hosts, run it, report.

Every host runs this as the image's `train` command when hyperparameters.json names
`sagemaker_program`:

1. Prepare, before meeting the others: read the settings and the distribution, fetch the
   code, find the entry point, install requirements.txt. Whatever fails here fails every host
   at once with this host's reason (the DNN's rule): each host joins the job's rendezvous
   with its error, and its peers fail naming it.
2. Run the script with the distribution's launcher (`distribution.Distribution`):
   - NONE: the script once per host, `python train.py --name value ...`.
   - TORCH_DISTRIBUTED (SDK's torch_distributed and pytorchddp): torchrun's agent across
     hosts, in a process of its own (`entrypoints.script.torchrun`): nnodes = hosts,
     node_rank = index in sorted(hosts), nproc_per_node = GPUs, or 1 on CPU.
   - MPI: Horovod over gloo, `processes_per_host` per host. Unlike SageMaker's MPI there is
     no mpirun and no sshd: the leader runs Horovod's gloo rendezvous server and every host
     starts its own processes with HOROVOD_* variables (`entrypoints.workers`), as
     `horovodrun --gloo` would. `sagemaker_mpi_custom_mpi_options` is ignored with a
     warning; OMPI_* variables (OMPI_COMM_WORLD_RANK, ...) are not set: a script takes its
     ranks from `hvd.rank()`, `hvd.local_rank()` and `hvd.size()`.
   - On the XGBoost image, with several hosts: the script once per host, and the leader
     runs XGBoost's tracker for the job (freed when this host's part ends, however it
     ends); every host's script gets DMLC_TRACKER_URI, DMLC_TRACKER_PORT, DMLC_TASK_ID and
     DMLC_NUM_WORKER, from which it may join XGBoost's collective
     (`entrypoints.toolkit.collective`).
3. Report: a script that exits non-zero or is killed is the job's failure (what failed first,
   then the tail of its stderr); a host lost meanwhile is named instead when it came first.
   A stop (SIGTERM) reaches every process the script started, kills them after the grace
   period (SMTUNE_SCRIPT_STOP_GRACE seconds; SageMaker allows 120 s in all) and ends the job
   as a stop: exit 0 without a failure file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtune.entrypoints import workers
from smtune.entrypoints.contract.config import TrainingEnvironment
from smtune.entrypoints.contract.errors import (
    AlgorithmError,
    PlatformError,
    TrainingError,
    UserError,
)
from smtune.entrypoints.contract.hosts import peer_failure
from smtune.entrypoints.contract.lifecycle import (
    MAX_FAILURE_CHARS,
    StopFlag,
    crash_error,
    stoppable,
)
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.contract.rendezvous import Rendezvous
from smtune.entrypoints.contract.topology import Topology
from smtune.entrypoints.script import source
from smtune.entrypoints.script.distribution import (
    Distribution,
    DistributionConfig,
    parse_distribution,
)
from smtune.entrypoints.script.environment import (
    Machine,
    Master,
    launch_variables,
    sm_variables,
)
from smtune.entrypoints.script.processes import Child
from smtune.entrypoints.script.settings import ScriptSettings, read_raw
from smtune.entrypoints.script.torchrun import TorchrunSpec, read_report
from smtune.entrypoints.xgboost.distributed import free_tracker, start_tracker, tracker_variables

logger = logging.getLogger(__name__)

STOP_GRACE_VARIABLE = "SMTUNE_SCRIPT_STOP_GRACE"
DEFAULT_STOP_GRACE_S = 100.0  # SageMaker kills 120 s after SIGTERM: room to end after ours
AGENT_MARGIN_S = 5.0  # torchrun's agent kills its workers itself after the grace period
# How soon a script's failure is seen: the host whose script failed first must tell its
# peers before their scripts fail in turn (see PeerLoss).
POLL_S = 0.02
_KIND_LINE = len("\nAlgorithmError") + 1


@dataclass(frozen=True)
class Prepared:
    """A script ready to run on this host."""

    settings: ScriptSettings
    distribution: DistributionConfig
    entry: source.EntryPoint
    environ: dict[str, str]
    processes: int
    code: Path


def stop_grace_s(environ: Mapping[str, str]) -> float:
    raw = environ.get(STOP_GRACE_VARIABLE)
    if raw is None:
        return DEFAULT_STOP_GRACE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise PlatformError(f"{STOP_GRACE_VARIABLE}={raw!r} must be a number of seconds >= 0")
    return value


def prepare(
    paths: ContainerPaths, topology: Topology, xgboost_collective: bool = False
) -> Prepared:
    """Settings, distribution, code, entry point, environment and requirements, in that order
    (the cheap checks first). `xgboost_collective`: add where XGBoost's tracker is, on a job
    of several hosts."""
    settings = ScriptSettings.from_raw(read_raw(paths))
    distribution = parse_distribution(settings.framework_params)
    distribution.check_image()
    logger.info("script mode: %s, distribution %s", settings.program, distribution.kind.value)
    source.fetch_code(settings.submit_directory, paths.code)
    entry = source.EntryPoint.find(settings.program, paths.code)
    entry.check_syntax()
    machine = Machine.here()
    master = Master.of(topology, os.environ)
    python_path = os.pathsep.join(p for p in (str(paths.code), os.environ.get("PYTHONPATH")) if p)
    environ = {
        **os.environ,
        **sm_variables(paths, settings, machine, os.environ),
        **launch_variables(settings, topology, master),
        "PYTHONPATH": python_path,
    }
    if _runs_tracker(topology, xgboost_collective):
        environ |= tracker_variables(topology)
    source.install_requirements(paths.code, environ)
    return Prepared(
        settings, distribution, entry, environ, distribution.processes(machine.gpus), paths.code
    )


class PeerLoss:
    """Which peer host failed or was lost first, and when we heard (called from the
    rendezvous's thread).

    A host whose script fails tells its peers at once by closing its side of the rendezvous
    link (`announce`), which the leader passes on as a loss; it keeps listening. A peer whose
    script then fails too (it lost the failed one in a collective) heard of the loss before
    its own failure, and names that host; the host that failed first heard nothing before,
    and gives its own reason.
    """

    def __init__(self) -> None:
        self.host: str | None = None
        self.heard_at: float | None = None
        self._seen = threading.Event()

    def __call__(self, host: str) -> None:
        if not self._seen.is_set():
            self.host, self.heard_at = host, time.monotonic()
            self._seen.set()
            logger.error("host %s failed or is gone", host)

    def before(self, moment: float) -> bool:
        return self.heard_at is not None and self.heard_at <= moment

    @staticmethod
    def announce(rendezvous: Rendezvous) -> None:
        """Tell the peers this host failed: half-close our link, so that we still hear them."""
        if rendezvous.link is not None:
            with contextlib.suppress(OSError):
                rendezvous.link.shutdown(socket.SHUT_WR)

    def error(self) -> PlatformError:
        return PlatformError(
            f"host {self.host} failed or was lost during training (its script failed, its "
            "process ended or the network to it failed): read that host's log for why"
        )


def _runs_tracker(topology: Topology, xgboost_collective: bool) -> bool:
    return xgboost_collective and len(topology.resource.hosts) > 1


def main(paths: ContainerPaths, stop: StopFlag, xgboost_collective: bool = False) -> None:
    env = TrainingEnvironment.load(paths)
    topology = Topology.from_environment(env.resource)
    resource = env.resource
    error: TrainingError | None = None
    info: dict[str, Any] = {}
    prepared: Prepared | None = None
    server = tracker = None
    try:
        with stoppable():
            prepared = prepare(paths, topology, xgboost_collective)
            info["processes"] = prepared.processes
            if prepared.distribution.kind is Distribution.MPI and resource.is_leader:
                server, info["horovod_port"] = workers.start_horovod_server(
                    resource.hosts, prepared.processes
                )
            if _runs_tracker(topology, xgboost_collective) and resource.is_leader:
                # Listening before any script may join. No bootstrap timeout: a script reads
                # its data before it joins, for as long as that takes; a host whose script
                # fails meanwhile ends the job through the rendezvous, not the tracker.
                tracker = start_tracker(topology, bootstrap_timeout_s=None)
    except Exception as exc:
        error = crash_error(exc)
    losses = PeerLoss()
    rendezvous = Rendezvous(topology, on_lost=losses)
    try:
        if error is not None:
            info["error"] = {"kind": error.kind, "message": error.message}
        infos = rendezvous.join(info) if len(resource.hosts) > 1 else {resource.current_host: info}
        if error is not None:
            raise error
        peer_error = peer_failure(infos, resource.current_host)
        if peer_error is not None:
            raise peer_error
        assert prepared is not None  # no error: prepared
        _same_processes(infos, prepared.processes)
        _run(prepared, env, topology, infos, stop, losses, rendezvous)
        if not stop.is_set():
            _wait_for_peers(rendezvous, losses, stop)
    finally:
        rendezvous.close()
        if server is not None:
            server.stop()
        if tracker is not None:
            free_tracker(tracker)


def _run(
    prepared: Prepared,
    env: TrainingEnvironment,
    topology: Topology,
    infos: dict[str, Any],
    stop: StopFlag,
    losses: PeerLoss,
    rendezvous: Rendezvous,
) -> None:
    """Start the script's processes, supervise them, and raise how they failed."""
    failed_at: list[float] = []

    def failed(_: workers.WorkerExit) -> None:
        failed_at.append(time.monotonic())
        if len(env.resource.hosts) > 1:
            losses.announce(rendezvous)

    grace = stop_grace_s(os.environ)
    with tempfile.TemporaryDirectory(prefix="smtune-script-") as scratch:
        report = Path(scratch) / "torchrun-report.json"
        stop.raise_if_set()
        children = _start(prepared, env, topology, infos, report, grace)
        try:
            is_agent = prepared.distribution.kind is Distribution.TORCH_DISTRIBUTED
            ended = workers.supervise(
                {rank: (local, child) for rank, (local, child) in children.items()},
                stop,
                grace + AGENT_MARGIN_S if is_agent else grace,
                interrupted=lambda: losses.host is not None,
                poll_s=POLL_S,
                on_failure=failed,
            )
        finally:
            # What a script left running in its group ends with it; then its stderr is whole.
            for _, child in children.values():
                child.end()
        if stop.is_set():
            logger.warning("stopped: the training script's processes have ended")
            return
        if all(child.poll() == 0 for _, child in children.values()):
            return
        heard_first = bool(failed_at) and losses.before(failed_at[0])
        raise _failure(prepared, env, ended, children, report, losses, heard_first)


def _start(
    prepared: Prepared,
    env: TrainingEnvironment,
    topology: Topology,
    infos: dict[str, Any],
    report: Path,
    grace: float,
) -> dict[int, tuple[int, Child]]:
    """This host's processes by global rank: (local rank, process)."""
    resource = env.resource
    command = prepared.entry.command(prepared.settings.arguments)
    environ, code = prepared.environ, prepared.code
    processes = prepared.processes
    logger.info(
        "%s: %d hosts x %d processes, distribution %s, interface %s: %s",
        resource.current_host, len(resource.hosts), processes,
        prepared.distribution.kind.value, resource.network_interface_name, " ".join(command),
    )  # fmt: skip
    match prepared.distribution.kind:
        case Distribution.NONE:
            return {resource.rank: (0, Child(command, environ, code))}
        case Distribution.TORCH_DISTRIBUTED:
            spec = TorchrunSpec(
                nodes=len(resource.hosts),
                node_rank=resource.rank,
                processes=processes,
                master_addr=environ["MASTER_ADDR"],
                master_port=int(environ["MASTER_PORT"]),
                timeout_s=topology.timeout_s,
                shutdown_timeout_s=grace,
                report=str(report),
            )
            agent = [
                sys.executable,
                "-u",
                "-m",
                "smtune.entrypoints.script.torchrun",
                spec.to_json(),
            ]
            return {resource.rank: (0, Child([*agent, "--", *command], environ, code))}
        case Distribution.MPI:
            leader = topology.ip_address(resource.leader)
            port = infos[resource.leader]["horovod_port"]
            common = workers.horovod_environment(resource, leader, port, processes)
            started = {}
            for local_rank in range(processes):
                slot = workers.horovod_slot(resource, processes, local_rank)
                child = Child(command, {**environ, **common, **slot}, code)
                started[int(slot["HOROVOD_RANK"])] = (local_rank, child)
            return started


def _failure(
    prepared: Prepared,
    env: TrainingEnvironment,
    ended: workers.WorkerExit | None,
    children: dict[int, tuple[int, Child]],
    report: Path,
    losses: PeerLoss,
    heard_first: bool,
) -> TrainingError:
    """Why this host failed: a peer's failure or loss when we heard of it before our script
    failed (it then failed only because the peer vanished), else how the script ended,
    with its stderr's tail."""
    if ended is None:
        return losses.error()
    own = _script_error(prepared, env, ended, children, report)
    if ended.signalled or not heard_first:
        return own
    # Our script failed because the peer vanished, most likely; its own words follow.
    lost = losses.error()
    return PlatformError(_fit(f"{lost.message}\nthen {own.message}"))


def _script_error(
    prepared: Prepared,
    env: TrainingEnvironment,
    ended: workers.WorkerExit,
    children: dict[int, tuple[int, Child]],
    report: Path,
) -> TrainingError:
    """How the script ended on this host: which process, how, then its stderr's last lines."""
    host = env.resource.current_host
    program = prepared.settings.program
    child = children[ended.rank][1]
    kind = prepared.distribution.kind
    if kind is Distribution.TORCH_DISTRIBUTED:
        worker = read_report(report)
        if worker is None:
            headline = f"torchrun's agent for the training script {program} {ended.how()}"
        else:
            headline = (
                f"the training script {program} {worker.how()} "
                f"(rank {worker.rank}, local rank {worker.local_rank} on host {host})"
            )
            ended = worker
    elif kind is Distribution.MPI:
        headline = (
            f"the training script {program} {ended.how()} "
            f"(rank {ended.rank}, local rank {ended.local_rank} on host {host})"
        )
    else:
        headline = f"the training script {program} {ended.how()} on host {host}"
    tail = child.tail(MAX_FAILURE_CHARS - len(headline) - _KIND_LINE - 1)
    message = f"{headline}\n{tail}" if tail else headline
    return PlatformError(message) if ended.signalled else AlgorithmError(message)


def _fit(message: str) -> str:
    """At most what the failure file holds with the kind's line: the first lines and the
    last ones, the middle cut."""
    room = MAX_FAILURE_CHARS - _KIND_LINE
    if len(message) <= room:
        return message
    head, _, rest = message.partition("\n")
    return f"{head}\n...{rest[-(room - len(head) - 4) :]}"


def _same_processes(infos: dict[str, Any], processes: int) -> None:
    counts = {host: info["processes"] for host, info in infos.items()}
    if len(set(counts.values())) > 1:
        raise UserError(
            f"hosts would run different numbers of processes ({counts}): set "
            "sagemaker_mpi_num_of_processes_per_host, or use hosts with as many GPUs each"
        )


def _wait_for_peers(rendezvous: Rendezvous, losses: PeerLoss, stop: StopFlag) -> None:
    """Say this host is done, and wait for the others: the leader's going would look like a
    loss to them. A stop, or a peer lost meanwhile (its own failure is the job's), ends it."""
    finishing = threading.Thread(
        target=rendezvous.finish, kwargs={"timeout_s": 365 * 24 * 3600.0}, daemon=True
    )
    finishing.start()
    while finishing.is_alive() and not stop.is_set() and losses.host is None:
        finishing.join(0.2)
    if losses.host is not None:
        logger.warning("host %s was lost after this host's script had succeeded", losses.host)
