"""The docker backend: every host of a job is a container, as on SageMaker.

The containers share a private (internal) Docker network on which algo-1..N resolve by
DNS; each mounts its own tree at /opt/ml (its input data read-only) and starts as
`docker run IMAGE train`, the way SageMaker starts a training container. Stop is SIGTERM
to each container (what StopTrainingJob does). A container stays until the job ends, so
that its state says why it ended (killed for memory); then it is removed with the network,
also on failure and Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from pathlib import Path

from smtune.containers.errors import ToolError
from smtune.containers.local.job import Backend, JobSpec, RunningJob
from smtune.containers.local.oom import MORE_MEMORY, Ending
from smtune.containers.local.process import ProcessJob, start_logged
from smtune.containers.script import CODE_DIR, ScriptSpec
from smtune.entrypoints.contract.paths import DEFAULT_ROOT, ContainerPaths
from smtune.entrypoints.contract.topology import TIMEOUT_VARIABLE

logger = logging.getLogger(__name__)

DOCKER = os.environ.get("SMTUNE_CONTAINER_TOOL", "docker")
#: All root in a container keeps of its capabilities: writing the host's tree, which the
#: user who ran smtune owns (mode 755), needs DAC_OVERRIDE; nothing else the images do needs
#: any (Docker's default set has 14 more: CHOWN, FOWNER, SETUID, NET_RAW, MKNOD, ...).
CAPABILITIES: tuple[str, ...] = ("DAC_OVERRIDE",)


class DockerError(ToolError):
    """A docker command failed; the message is docker's own."""


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise DockerError(f"docker {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result


def job_label(out: Path) -> str:
    """The label on a job's containers and network: its folder, which names one job."""
    return f"smtune.out={out.resolve()}"


def remove_leftovers(label: str) -> list[str]:
    """Containers and networks of an earlier run of the same job, killed before it cleaned up
    (a `kill -9`); left, they would also use up Docker's pool of network addresses. Returns
    the names of what it removed."""
    listed = docker("ps", "--all", "--format", "{{.Names}}", "--filter", f"label={label}")
    containers = listed.stdout.split()
    if containers:
        docker("rm", "--force", *containers, check=False)
    listed = docker("network", "ls", "--format", "{{.Name}}", "--filter", f"label={label}")
    networks = listed.stdout.split()
    if networks:
        docker("network", "rm", *networks, check=False)
    return containers + networks


def engine_available() -> bool:
    try:
        return docker("info", "--format", "{{.ServerVersion}}", check=False).returncode == 0
    except FileNotFoundError:
        return False


class DockerJob(ProcessJob):
    """A job whose hosts are `docker run` clients attached to their containers."""

    def __init__(
        self, *args: object, names: dict[str, str], network: str, memory: str | None
    ) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.names = names
        self.network = network
        self.memory = memory
        self.released = False

    def _signal_stop(self) -> None:
        for name in self.names.values():
            docker("kill", "--signal", "TERM", name, check=False)

    def kill(self) -> None:
        self.killing = True  # before the rm, which ends the clients: their ends are ours
        docker("rm", "--force", *self.names.values(), check=False)
        super().kill()  # the attached clients, then _release

    def _ending(self, host: str, code: int) -> Ending | None:
        # Docker records a kill by the kernel's OOM killer in the container's cgroup (its
        # --memory), as SageMaker's FailureReason names memory.
        state = docker("inspect", "--format", "{{.State.OOMKilled}}", self.names[host], check=False)
        if state.stdout.strip() != "true":
            return None
        if self.memory is None:
            what = "by the kernel's OOM killer (no --memory: this machine's memory ran out)"
        else:
            what = f"for exceeding its memory limit ({self.memory})"
        return Ending(f"{host} was killed {what}: {MORE_MEMORY}", proven=True)

    def _release(self) -> None:
        # Called once every host has ended, whoever watches the job (a `with` block or a
        # rehearsal that polls it): Docker has addresses for only about 30 networks.
        super()._release()
        if not self.released:
            # Containers run without `--rm` (their OOMKilled is read after they end), and a network
            # with one still attached refuses `rm`: remove them first, here.
            docker("rm", "--force", *self.names.values(), check=False)
            docker("network", "rm", self.network, check=False)
            self.released = True

    def container_kill(self, host: str) -> None:
        """`docker kill` one host, as when its instance is lost."""
        docker("kill", self.names[host])


class DockerBackend(Backend):
    """Runs each host as a container of `image` (a full image reference).

    The image's command runs as root in the container (SageMaker's contract), with only
    the capabilities in CAPABILITIES, no way to gain more (no-new-privileges), at most
    `pids_limit` processes and threads, and its input data mounted read-only.
    """

    mounted_at = DEFAULT_ROOT
    inputs_read_only = True

    def submit_directory(self, script: ScriptSpec) -> str | None:
        # Mounted at /opt/ml/code, as SDK local mode mounts it: nothing to fetch.
        return None

    def __init__(
        self,
        image: str,
        cpus: float | None = None,
        memory: str | None = None,
        pids_limit: int = 4096,
    ) -> None:
        self.image = image
        self.cpus = cpus
        self.memory = memory
        self.pids_limit = pids_limit

    def command(
        self, spec: JobSpec, name: str, host: str, tree: ContainerPaths, network: str
    ) -> list[str]:
        limits = []
        if self.cpus is not None:
            limits += ["--cpus", str(self.cpus)]
        if self.memory is not None:
            # As much with swap as without: SageMaker's instances have none, and a container
            # that may swap crawls on past its limit instead of being killed.
            limits += ["--memory", self.memory, "--memory-swap", self.memory]
        code = []
        if spec.script is not None:  # read-only: a job never changes the user's files
            code = ["--volume", f"{spec.script.source_dir}:{CODE_DIR}:ro"]
        return [
            DOCKER, "run",  # no --rm: _release removes it, once _ending has read its state
            "--name", name, "--hostname", host,
            "--network", network, "--network-alias", host,
            "--volume", f"{tree.root}:{DEFAULT_ROOT}",
            # Over the tree's own mount: the hard links in it are the user's files.
            "--volume", f"{tree.data}:{ContainerPaths(DEFAULT_ROOT).data}:ro",
            *code,
            "--cap-drop", "ALL", *(f"--cap-add={c}" for c in CAPABILITIES),
            "--security-opt", "no-new-privileges",
            # Threads count too: torch and Horovod start hundreds.
            "--pids-limit", str(self.pids_limit),
            "--label", job_label(spec.out),
            "--env", f"{TIMEOUT_VARIABLE}={spec.rendezvous_timeout_s}",
            *limits, self.image, "train",
        ]  # fmt: skip

    def _launch(self, spec: JobSpec, trees: dict[str, ContainerPaths], echo: bool) -> RunningJob:
        job_id = uuid.uuid4().hex[:10]
        network = f"smtune-{job_id}"
        label = job_label(spec.out)
        remove_leftovers(label)
        # Internal: the hosts reach each other, and nothing beyond this machine.
        docker("network", "create", "--internal", "--label", label, network)
        names = {host: f"smtune-{job_id}-{host}" for host in spec.hosts}
        processes, pumps = {}, []
        try:
            for host in spec.hosts:
                if spec.script is not None:  # the mount point, ours: else Docker makes it, root's
                    trees[host].code.mkdir(exist_ok=True)
                processes[host], pump = start_logged(
                    self.command(spec, names[host], host, trees[host], network),
                    spec.log_path(host),
                    echo=echo and host == spec.hosts[0],
                )
                pumps.append(pump)
        except BaseException:
            docker("rm", "--force", *names.values(), check=False)
            docker("network", "rm", network, check=False)
            raise
        return DockerJob(
            spec, trees, processes, pumps, None, names=names, network=network, memory=self.memory
        )

    def end_leftovers(self, out: Path) -> list[str]:
        """Remove the containers and network labelled with `out`: a label names the job."""
        return remove_leftovers(job_label(out))
