"""A local training job: what to run, how it ended, and the backend interface.

A backend lays out one /opt/ml tree per host, starts the image's training command on
every host, and supervises them the way SageMaker does: the job is Completed when every
host exits 0; it is Failed when any host fails (the others get a grace period to fail by
themselves, then are killed); StopTrainingJob (or MaxRuntimeInSeconds) sends SIGTERM and
kills what is left after the grace period.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from smtune.containers.catalogue import ImageSpec
from smtune.containers.local.layout import ChannelSource, host_names, lay_out_host
from smtune.containers.script import ScriptSpec, job_name
from smtune.containers.status import JobStatus
from smtune.entrypoints.contract.paths import ContainerPaths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """One training job to run locally.

    Args:
        image: What the hosts run.
        host_count: Number of hosts (SageMaker's InstanceCount).
        channels: Input channels by name.
        hyperparameters: As the API takes them: names to strings.
        out: Folder for the hosts' trees (out/algo-1, ...) and logs (out/algo-1.log, ...).
        max_run_s: SageMaker's MaxRuntimeInSeconds; None for no limit.
        stop_grace_s: Time between SIGTERM and SIGKILL on a stop (SageMaker gives 120 s).
        failure_grace_s: Time the other hosts get to end by themselves once one failed.
        rendezvous_timeout_s: How long hosts wait for each other to join.
        checkpoints: The job has a CheckpointConfig (SageMaker's checkpoint_s3_uri): its
            hosts get checkpointconfig.json, and algorithms that honour it checkpoint.
        resume: Keep the checkpoints of an earlier run in `out`, so the job resumes from them;
            implies `checkpoints`.
        script: A user's script the image runs instead of its own algorithm (script mode);
            its hyperparameters (sagemaker_program, ...) join `hyperparameters` on each host.
        region: sagemaker_region of a script's job; None leaves it out.
    """

    image: ImageSpec
    host_count: int
    channels: Mapping[str, ChannelSource]
    hyperparameters: Mapping[str, str]
    out: Path
    max_run_s: float | None = None
    stop_grace_s: float = 120.0
    failure_grace_s: float = 60.0
    rendezvous_timeout_s: float = 300.0
    checkpoints: bool = False
    resume: bool = False
    script: ScriptSpec | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        # Hosts run with their own working directory: every path they get must be absolute.
        object.__setattr__(self, "out", self.out.resolve())
        object.__setattr__(self, "checkpoints", self.checkpoints or self.resume)

    @property
    def hosts(self) -> tuple[str, ...]:
        return host_names(self.host_count)

    @property
    def name(self) -> str:
        """The job's name (sagemaker_job_name of a script): its folder's name."""
        return job_name(self.out.name)

    def log_path(self, host: str) -> Path:
        return self.out / f"{host}.log"

    def host_hyperparameters(self, submit_directory: str | None) -> dict[str, str]:
        """hyperparameters.json of every host: a script's own join the job's, as SDK v2
        sends them; `submit_directory` as ScriptSpec.hyperparameters takes it."""
        if self.script is None:
            return dict(self.hyperparameters)
        script = self.script.hyperparameters(submit_directory, self.name, self.region)
        return {**self.hyperparameters, **script}


@dataclass(frozen=True)
class HostResult:
    host: str
    exit_code: int
    failure: str | None
    log: Path


@dataclass(frozen=True)
class JobResult:
    """How a job ended. `reason`: SageMaker's FailureReason when Failed, what stopped it when
    Stopped (StopTrainingJob, MaxRuntimeExceeded, Ctrl-C), None when Completed."""

    status: JobStatus
    hosts: tuple[HostResult, ...]
    wall_seconds: float
    reason: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def leader_log(self) -> Path:
        return self.hosts[0].log


class RunningJob(ABC):
    """A job whose hosts are running; also a context manager that leaves nothing behind."""

    def __init__(self, spec: JobSpec, trees: dict[str, ContainerPaths]) -> None:
        self.spec = spec
        self.trees = trees
        self.started = time.monotonic()
        self.stop_reason: str | None = None
        self.stop_time: float | None = None

    def stop(self, reason: str = "StopTrainingJob") -> None:
        """Ask every host to stop (SIGTERM), as StopTrainingJob does."""
        if self.stop_time is None:
            logger.info("stopping the job: %s", reason)
            self.stop_reason, self.stop_time = reason, time.monotonic()
            self._signal_stop()

    @abstractmethod
    def _signal_stop(self) -> None: ...

    @abstractmethod
    def wait(self) -> JobResult: ...

    @abstractmethod
    def poll(self) -> JobResult | None:
        """The result if every host has ended, else None; never blocks."""

    @abstractmethod
    def kill(self) -> None:
        """End every host at once; safe to call twice."""

    def __enter__(self) -> RunningJob:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()


class Backend(ABC):
    """Runs a JobSpec's hosts somewhere: processes here, or containers."""

    #: Where a host sees its tree; None when it sees it where it lies (processes).
    mounted_at: Path | None = None
    #: The interface hosts reach each other through, as resourceconfig.json names it.
    network_interface: str = "eth0"
    #: Hosts cannot write their input data (a read-only mount): it may then be hard links
    #: to the user's files. Else each host gets copies, so a job never changes them.
    inputs_read_only: bool = False

    def submit_directory(self, script: ScriptSpec) -> str | None:
        """Where a host fetches a script's folder (sagemaker_submit_directory); None where
        the backend puts it at CODE_DIR itself (a mount)."""
        return script.file_uri

    def start(self, spec: JobSpec, echo: bool = False) -> RunningJob:
        """Lay out the hosts' trees and start them; `echo` streams the leader's log here."""
        spec.out.mkdir(parents=True, exist_ok=True)
        code = self.submit_directory(spec.script) if spec.script is not None else None
        hyperparameters = spec.host_hyperparameters(code)
        trees = {
            host: lay_out_host(
                spec.out,
                spec.hosts,
                host,
                spec.channels,
                hyperparameters,
                keep_checkpoints=spec.resume,
                mounted_at=self.mounted_at,
                network_interface=self.network_interface,
                checkpoints=spec.checkpoints,
                link_inputs=self.inputs_read_only,
            )
            for host in spec.hosts
        }
        return self._launch(spec, trees, echo)

    def run(self, spec: JobSpec, echo: bool = False) -> JobResult:
        with self.start(spec, echo) as job:
            try:
                return job.wait()
            except KeyboardInterrupt:
                job.stop("interrupted (Ctrl-C)")
                return job.wait()

    @abstractmethod
    def _launch(
        self, spec: JobSpec, trees: dict[str, ContainerPaths], echo: bool
    ) -> RunningJob: ...

    @abstractmethod
    def end_leftovers(self, out: Path) -> list[str]:
        """End whatever hosts of an earlier run of the job whose folder is `out` are still
        running (its runner was killed before it cleaned up), after checking they are that
        job's: a pid or a name alone may since belong to someone else. Returns what it
        ended, for a log line."""


def read_failure(tree: ContainerPaths) -> str | None:
    try:
        return tree.failure.read_text().strip() or None
    except FileNotFoundError:
        return None
