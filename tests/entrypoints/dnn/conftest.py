"""MNIST subsets as channels, and DNN jobs on the process backend."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobSpec
from smtune.containers.local.layout import ChannelSource
from smtune.entrypoints.contract.config import S3DistributionType

# One epoch of these reaches about 0.94 validation accuracy in seconds on 2 CPUs (batch 64
# gave 0.907: too near the tests' 0.9 line).
QUICK = {"optimizer": "adam", "lr": 0.002, "epochs": 1, "batch_size": 32}
DIGEST = re.compile(r"rank (\d+) parameters sha256 ([0-9a-f]{64})")


@pytest.fixture(scope="session")
def mnist(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 train and 1,000 validation examples of the real MNIST, as channels."""
    from smtune.containers.data.mnist import prepare

    out = tmp_path_factory.mktemp("mnist")
    prepare(shared_data / "mnist", out, {"train": 6000, "validation": 1000})
    return out


def dnn_job(data: Path, out: Path, hosts: int = 2, **hyperparameters: object) -> JobSpec:
    replicated = S3DistributionType.FULLY_REPLICATED
    return JobSpec(
        image=image("dnn"),
        host_count=hosts,
        channels={
            name: ChannelSource(name, data / name, replicated, "application/x-idx")
            for name in ("train", "validation")
            if (data / name).exists()
        },
        hyperparameters={k: str(v) for k, v in {**QUICK, **hyperparameters}.items()},
        out=out,
        rendezvous_timeout_s=60,
        failure_grace_s=60,
    )


def digests(out: Path, hosts: int) -> dict[int, str]:
    """Each rank's parameter digest, from every host's log."""
    found: dict[int, str] = {}
    for n in range(1, hosts + 1):
        for rank, digest in DIGEST.findall((out / f"algo-{n}.log").read_text()):
            found[int(rank)] = digest
    return found


def wait_for(log: Path, text: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {log}")
