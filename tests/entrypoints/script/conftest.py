"""Script-mode jobs on the process backend: the DNN image's command, a user's script."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import JOB_DIR_VARIABLE
from smtune.entrypoints.contract.config import S3DistributionType

USER_SCRIPT = Path(__file__).with_name("user_script.py")
DISTRIBUTIONS: dict[str, dict[str, str]] = {  # as SDK v2 sends `distribution`
    "none": {},
    "torch_distributed": {
        "sagemaker_torch_distributed_enabled": "true",
        "sagemaker_instance_type": '"local"',
    },
    "mpi": {
        "sagemaker_mpi_enabled": "true",
        "sagemaker_mpi_num_of_processes_per_host": "1",
        "sagemaker_mpi_custom_mpi_options": '""',
    },
}


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    shutil.copy(USER_SCRIPT, folder / "train.py")
    return folder


@pytest.fixture
def train_data(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "train"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text("1,2\n3,4\n5,6\n")
    return folder


def script_job(
    out: Path,
    source: str,
    data: Path,
    distribution: str = "none",
    program: str = "train.py",
    hosts: int = 2,
    image_name: str = "dnn",
    **hyperparameters: object,
) -> JobSpec:
    """A job as SDK v2 sends a PyTorch estimator's: every value JSON-encoded."""
    sent = {
        "sagemaker_program": json.dumps(program),
        "sagemaker_submit_directory": json.dumps(source),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps(out.name),
        **DISTRIBUTIONS[distribution],
        **{name: json.dumps(value) for name, value in hyperparameters.items()},
    }
    replicated = S3DistributionType.FULLY_REPLICATED
    return JobSpec(
        image=image(image_name),
        host_count=hosts,
        channels={"train": ChannelSource("train", data, replicated, "text/csv")},
        hyperparameters=sent,
        out=out,
        rendezvous_timeout_s=30,
        failure_grace_s=30,
        stop_grace_s=30,
    )


def job_processes(out: Path) -> list[int]:
    """Every process that carries the job's marker: hosts, agents, scripts, their children."""
    marker = f"{JOB_DIR_VARIABLE}={out.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(int(entry.name))
    return found


@contextlib.contextmanager
def nothing_left(out: Path) -> Iterator[None]:
    """Whatever happens, end every process of the job (scripts lead sessions of their own)."""
    try:
        yield
    finally:
        for pid in job_processes(out):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_for(log: Path, text: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {log}")
