"""Jobs as containers on a private network: the same job, the same guarantees."""

from __future__ import annotations

import contextlib
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
from smtune.containers.local.docker import DockerBackend, docker, job_label, remove_leftovers
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.xgboost import checkpoints
from tests.entrypoints.xgboost.test_distributed import (
    NOTEBOOK,
    assert_the_others_named_the_lost_host,
    long_job,
    metric_values,
    wait_for_round,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def leftovers(job_names: list[str]) -> list[str]:
    """Containers or networks of a job that are still there."""
    containers = docker("ps", "--all", "--format", "{{.Names}}").stdout.split()
    networks = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    return [n for n in containers + networks if any(n.startswith(j) for j in job_names)]


def bank_job(bank: Path, out: Path, hosts: int, sharded: bool) -> JobSpec:
    distribution = (
        S3DistributionType.SHARDED_BY_S3_KEY if sharded else S3DistributionType.FULLY_REPLICATED
    )
    return JobSpec(
        image=image("xgboost"),
        host_count=hosts,
        channels={
            "train": ChannelSource("train", bank / "train", distribution),
            "validation": ChannelSource("validation", bank / "validation"),
        },
        hyperparameters={k: str(v) for k, v in NOTEBOOK.items()},
        out=out,
    )


@pytest.mark.timeout(300)
def test_three_containers_match_one_host_on_bank_marketing(
    docker_image: str, bank: Path, tmp_path: Path
) -> None:
    one = ProcessBackend().run(bank_job(bank, tmp_path / "one", 1, sharded=False))
    three = DockerBackend(docker_image).run(bank_job(bank, tmp_path / "three", 3, sharded=True))
    assert three.status is JobStatus.COMPLETED, three.reason
    auc_one, auc_three = metric_values(one.leader_log), metric_values(three.leader_log)
    assert len(auc_three) == 150 and all(metric_values(h.log) == [] for h in three.hosts[1:])
    assert abs(auc_one[-1] - auc_three[-1]) < 0.005, (auc_one[-1], auc_three[-1])
    # The containers trained on their own shards: algo-2 got the second of three files.
    shard = tmp_path / "three" / "algo-2" / "input" / "data" / "train"
    assert [p.name for p in shard.iterdir()] == ["train-1.csv"]


@pytest.mark.timeout(300)
def test_docker_kill_of_one_host_fails_the_others_naming_it(
    docker_image: str, bank: Path, tmp_path: Path
) -> None:
    backend = DockerBackend(docker_image)
    with backend.start(long_job(bank, tmp_path / "job", hosts=3)) as job:
        names = list(job.names.values())  # type: ignore[attr-defined]
        wait_for_round(job.spec.log_path("algo-1"), 5, timeout_s=120)
        job.container_kill("algo-2")  # type: ignore[attr-defined]
        killed = time.monotonic()
        for host in ("algo-1", "algo-3"):
            job.processes[host].wait(timeout=60)  # type: ignore[attr-defined]
        ended_within = time.monotonic() - killed
        result = job.wait()
    assert ended_within < 60
    assert_the_others_named_the_lost_host(result, "algo-2")
    assert leftovers([n.rsplit("-algo-", 1)[0] for n in names]) == []


@pytest.mark.timeout(300)
def test_docker_stop_checkpoints_and_a_rerun_resumes_to_the_same_model(
    docker_image: str, bank: Path, tmp_path: Path
) -> None:
    backend = DockerBackend(docker_image)
    sampled = {"num_round": 80, "subsample": 0.7, "colsample_bytree": 0.6, "max_depth": 6}
    whole = backend.run(long_job(bank, tmp_path / "whole", 2, **sampled))
    assert whole.status is JobStatus.COMPLETED, whole.reason
    spec = long_job(bank, tmp_path / "cut", 2, **sampled)
    with backend.start(spec) as job:
        wait_for_round(spec.log_path("algo-1"), 25, timeout_s=120)
        asked = time.monotonic()
        job.stop()  # SIGTERM to every container, as StopTrainingJob
        stopped = job.wait()
    assert time.monotonic() - asked < 120  # SageMaker's grace period
    assert stopped.status is JobStatus.STOPPED and all(h.exit_code == 0 for h in stopped.hosts)
    kept = checkpoints.newest(tmp_path / "cut" / "algo-1" / "checkpoints")
    assert kept is not None and 20 <= kept[0] < 80
    resumed = backend.run(JobSpec(**{**spec.__dict__, "resume": True}))
    assert resumed.status is JobStatus.COMPLETED, resumed.reason
    final = "algo-1/model/xgboost-model"
    assert (tmp_path / "cut" / final).read_bytes() == (tmp_path / "whole" / final).read_bytes()


def _sigint_by_default() -> None:
    """In the child before exec: a test run started in the background (`cmd &`) has
    SIGINT ignored, Python keeps an inherited ignore, and Ctrl-C would then do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def cli_job(command: list[str], out: Path) -> Iterator[subprocess.Popen[str]]:
    """`smtune` started as a user starts it, with Ctrl-C deliverable; whatever happens, its
    process group and the job's containers and network end with the test."""
    cli = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_by_default,
        start_new_session=True,  # a group of its own, to end whole
    )
    try:
        yield cli
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cli.pid, signal.SIGKILL)
        with cli:  # closes its pipes and reaps it
            pass
        remove_leftovers(job_label(out))


@pytest.mark.timeout(300)
def test_ctrl_c_stops_the_containers_and_leaves_nothing(
    docker_image: str, bank: Path, tmp_path: Path
) -> None:
    out = tmp_path / "job"
    command = [
        sys.executable,
        "-m",
        "smtune.tuning.cli",
        "train",
        "xgboost",
        "--backend",
        "docker",
        "--image",
        docker_image,
        "--hosts",
        "2",
        "--train",
        str(bank / "train"),
        "--validation",
        str(bank / "validation"),
        "--out",
        str(out),
        "--quiet",
        "--hp",
        "num_round=100000",
        "--hp",
        "objective=binary:logistic",
        "--hp",
        "max_depth=8",
    ]
    with cli_job(command, out) as cli:
        wait_for_round(out / "algo-1.log", 3, timeout_s=120)
        names = docker("ps", "--format", "{{.Names}}").stdout.split()
        job = next(n for n in names if n.endswith("-algo-1")).rsplit("-algo-", 1)[0]
        cli.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _, stderr = cli.communicate(timeout=150)
    assert cli.returncode == 3, stderr  # Stopped
    assert "job Stopped" in stderr and "interrupted (Ctrl-C)" in stderr
    assert leftovers([job]) == []
    assert (out / "algo-1" / "model" / "xgboost-model").is_file()  # saved on termination


@pytest.mark.timeout(120)
def test_leftovers_of_a_killed_run_are_removed_before_the_job_starts_again(
    docker_image: str, toy: Path, tmp_path: Path
) -> None:
    spec = JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels={"train": ChannelSource("train", toy / "train")},
        hyperparameters={"num_round": "3", "objective": "binary:logistic"},
        out=tmp_path / "job",
    )
    label = f"smtune.out={spec.out}"
    docker("network", "create", "--internal", "--label", label, "smtune-leftover-test")
    result = DockerBackend(docker_image).run(spec)
    assert result.status is JobStatus.COMPLETED, result.reason
    assert leftovers(["smtune-leftover-test"]) == []
    assert docker("network", "ls", "--quiet", "--filter", f"label={label}").stdout.split() == []


WRITE_INPUT = """
import pathlib, time
ml = pathlib.Path("/opt/ml")
refused = []
for file in sorted((ml / "input" / "data").rglob("*.csv")):
    try:
        with file.open("a") as f:
            f.write("written by the job\\n")
    except OSError as error:
        refused.append(error.strerror)
(ml / "model" / "refused.txt").write_text("\\n".join(refused))
while not (ml / "output" / "data" / "go").exists():  # until the test has inspected us
    time.sleep(0.1)
"""


def wait_for(path: Path, timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path


class InputWriter(DockerBackend):
    """The image, running a script that appends to every input file it sees."""

    def command(self, *args: object) -> list[str]:
        run = super().command(*args)  # type: ignore[arg-type]
        return [*run[:-2], "--entrypoint", "python", run[-2], "-c", WRITE_INPUT]


@pytest.mark.timeout(120)
def test_a_container_cannot_change_the_users_files_and_runs_with_few_privileges(
    docker_image: str, toy: Path, tmp_path: Path
) -> None:
    before = {p: p.read_bytes() for p in toy.rglob("*.csv")}
    spec = JobSpec(
        image=image("xgboost"),
        host_count=1,
        channels={"train": ChannelSource("train", toy / "train")},
        hyperparameters={},
        out=tmp_path / "job",
    )
    with InputWriter(docker_image).start(spec) as job:
        refused = wait_for(spec.out / "algo-1" / "model" / "refused.txt", timeout_s=60)
        inspected = docker("inspect", "--format", "{{json .HostConfig}}", job.names["algo-1"])  # type: ignore[attr-defined]
        (spec.out / "algo-1" / "output" / "data" / "go").touch()
        result = job.wait()
    assert result.status is JobStatus.COMPLETED, result.reason
    assert refused.read_text().splitlines() == ["Read-only file system"] * 3
    assert {p: p.read_bytes() for p in toy.rglob("*.csv")} == before
    host_config = json.loads(inspected.stdout)
    added = [c.removeprefix("CAP_") for c in host_config["CapAdd"]]  # as this engine spells it
    assert host_config["CapDrop"] == ["ALL"] and added == ["DAC_OVERRIDE"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["PidsLimit"] == 4096


@pytest.mark.timeout(120)
def test_end_leftovers_removes_a_crashed_runs_containers_and_network(
    docker_image: str, toy: Path, tmp_path: Path
) -> None:
    spec = JobSpec(
        image("xgboost"), 2, {"train": ChannelSource("train", toy / "train")}, {}, tmp_path / "job"
    )
    with InputWriter(docker_image).start(spec) as job:  # its runner "crashes" while it runs
        names = job.names  # type: ignore[attr-defined]
        for host in names:  # until both containers run
            wait_for(spec.out / host / "model" / "refused.txt", timeout_s=60)
        ended = DockerBackend(docker_image).end_leftovers(spec.out)
        assert sorted(ended) == sorted([*names.values(), job.network])  # type: ignore[attr-defined]
        assert leftovers(list(names.values())) == []


ALLOCATE = """
import socket, time
if socket.gethostname() == "algo-2":
    hoard = b"x" * (200 * 2**20)  # written, so resident: far over the limit
time.sleep(600)
"""


class Allocator(DockerBackend):
    """The image, running a script with which algo-2 takes 200 MB; algo-1 waits."""

    def command(self, *args: object) -> list[str]:
        run = super().command(*args)  # type: ignore[arg-type]
        return [*run[:-2], "--entrypoint", "python", run[-2], "-c", ALLOCATE]


def test_docker_limits_memory_without_swap(docker_image: str, tmp_path: Path) -> None:
    spec = JobSpec(image("xgboost"), 1, {}, {}, tmp_path / "job")
    tree = ContainerPaths(tmp_path / "job" / "algo-1")
    run = DockerBackend(docker_image, memory="48m").command(spec, "n", "algo-1", tree, "net")
    # SageMaker's instances have no swap: a container that may swap outlives its limit.
    assert run[run.index("--memory") :][:4] == ["--memory", "48m", "--memory-swap", "48m"]


@pytest.mark.timeout(120)
def test_a_container_killed_for_memory_is_named_with_its_limit(
    docker_image: str, toy: Path, tmp_path: Path
) -> None:
    spec = JobSpec(
        image("xgboost"),
        2,
        {"train": ChannelSource("train", toy / "train")},
        {},
        tmp_path / "job",
        failure_grace_s=2,
    )
    with Allocator(docker_image, memory="48m").start(spec) as job:
        names = list(job.names.values())  # type: ignore[attr-defined]
        result = job.wait()
    assert result.status is JobStatus.FAILED
    assert result.reason == (
        "algo-2 was killed for exceeding its memory limit (48m): "
        "give it more memory or a larger instance type"
    )
    assert [h.exit_code for h in result.hosts] == [137, 137]  # algo-1 ended by the grace
    assert leftovers([*names, job.network]) == []  # type: ignore[attr-defined]
