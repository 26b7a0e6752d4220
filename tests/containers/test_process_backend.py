"""The process backend: parallel jobs, stop and max runtime, nothing left running."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import (
    ExitWatch,
    ProcessBackend,
    release_port_block,
    reserve_port_block,
)
from tests.conftest import RunJob, write_csv

TOY = {"num_round": 10, "objective": "binary:logistic", "eval_metric": "auc"}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_port_blocks_do_not_overlap() -> None:
    bases = [reserve_port_block() for _ in range(20)]
    try:
        ports = [p for b in bases for p in range(b, b + 8)]
        assert len(set(ports)) == len(ports)
    finally:
        for base in bases:
            release_port_block(base)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux's")
def test_a_waiting_job_wakes_when_a_host_ends_not_at_its_timeout() -> None:
    hosts = {
        "algo-1": subprocess.Popen(["sleep", "0.2"]),
        "algo-2": subprocess.Popen(["sleep", "60"]),
    }
    watch = ExitWatch(hosts)
    try:
        if not watch.fds:
            pytest.skip("this kernel gives no pidfds")
        started = time.monotonic()
        watch.sleep(["algo-1", "algo-2"], timeout=30)
        assert time.monotonic() - started < 15  # woken by algo-1's end, long before 30 s
        assert hosts["algo-1"].poll() == 0 and hosts["algo-2"].poll() is None
    finally:
        watch.close()
        hosts["algo-2"].kill()
        for process in hosts.values():
            process.wait()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_four_three_host_jobs_run_side_by_side(run_job: RunJob, toy: Path, tmp_path: Path) -> None:
    """The rehearsal runs 4 jobs x 3 hosts at once: their ports must never collide."""
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda i: run_job(
                    toy / "train",
                    TOY,
                    hosts=3,
                    validation=toy / "validation",
                    out=tmp_path / f"job-{i}",
                    rendezvous_timeout_s=120,
                ),
                range(4),
            )
        )
    assert [r.status for r in results] == [JobStatus.COMPLETED] * 4, [r.reason for r in results]


def test_max_runtime_stops_the_job(run_job: RunJob, tmp_path: Path) -> None:
    train = write_csv(tmp_path / "big" / "train.csv", 20000, columns=20)
    result = run_job(train.parent, {**TOY, "num_round": 100000, "max_depth": 10}, max_run_s=2.0)
    assert result.status is JobStatus.STOPPED
    assert result.reason == "MaxRuntimeExceeded"
    assert result.hosts[0].exit_code == 0  # it saved and left on SIGTERM


def test_killing_a_job_ends_every_host_process(toy: Path, tmp_path: Path) -> None:
    from smtune.containers.catalogue import image
    from smtune.containers.local.job import JobSpec
    from smtune.containers.local.layout import ChannelSource
    from smtune.containers.local.process import ProcessBackend

    spec = JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels={"train": ChannelSource("train", toy / "train")},
        hyperparameters={"num_round": "100000"},
        out=tmp_path / "job",
    )
    with ProcessBackend().start(spec) as job:
        pids = [p.pid for p in job.processes.values()]  # type: ignore[attr-defined]
        assert all(alive(pid) for pid in pids)
    assert not any(alive(pid) for pid in pids)


APPEND = """
import os, pathlib
data = pathlib.Path(os.environ["SAGEMAKER_BASE_DIR"]) / "input" / "data"
for file in data.rglob("*"):
    if file.is_file():
        with file.open("a") as f:
            f.write("written by the job\\n")
"""


class Appender(ProcessBackend):
    """Hosts that append to every input file, as a careless (or hostile) image might."""

    def command(self, spec: JobSpec) -> list[str]:
        return [self.python, "-c", APPEND]


def test_a_job_that_writes_its_input_leaves_the_users_files_unchanged(
    toy: Path, tmp_path: Path
) -> None:
    before = {p: p.read_bytes() for p in toy.rglob("*.csv")}
    spec = JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels={"train": ChannelSource("train", toy / "train")},
        hyperparameters={},
        out=tmp_path / "job",
    )
    result = Appender().run(spec)
    assert result.status is JobStatus.COMPLETED, result.reason
    shard = tmp_path / "job" / "algo-1" / "input" / "data" / "train" / "part-0.csv"
    assert shard.read_text().endswith("written by the job\n")  # it did write its copy
    assert {p: p.read_bytes() for p in toy.rglob("*.csv")} == before
