"""Bad input to the DNN image: every host fails at once, exit 1, a failure file with the rule."""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from smtune.containers.local.job import JobStatus
from smtune.containers.local.process import ProcessBackend
from tests.entrypoints.dnn.conftest import dnn_job


def copy(mnist: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(mnist, data)
    return data


def wrong_magic(data: Path) -> None:
    path = data / "train" / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">I", 0x00000804) + path.read_bytes()[4:])


def truncated(data: Path) -> None:
    path = data / "validation" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:100_000])


def fewer_labels(data: Path) -> None:
    path = data / "train" / "train-labels-idx1-ubyte"
    raw = path.read_bytes()
    path.write_bytes(raw[:4] + struct.pack(">I", 5999) + raw[8:-1])


def no_train(data: Path) -> None:
    shutil.rmtree(data / "train")


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (wrong_magic, "train-images-idx3-ubyte has magic number 0x00000804: must be 0x00000803"),
        (truncated, "t10k-images-idx3-ubyte is truncated: its header says 1000x28x28"),
        (fewer_labels, "channel train: train-images-idx3-ubyte holds 6000 images but"),
        (no_train, "channel train is required: this job's channels are validation"),
    ],
)
def test_bad_data_fails_both_hosts_with_the_reason(
    mnist: Path, tmp_path: Path, damage: Callable[[Path], None], reason: str
) -> None:
    data = copy(mnist, tmp_path)
    damage(data)
    result = ProcessBackend().run(dnn_job(data, tmp_path / "job", hosts=2))
    assert result.status is JobStatus.FAILED
    assert [h.exit_code for h in result.hosts] == [1, 1]
    leader, other = (h.failure or "" for h in result.hosts)
    assert reason in leader, leader
    assert "UserError" in leader
    # The other host names the leader's reason, or its own (both read the same data).
    assert reason in other, other


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        (
            {"launcher": "mpirun"},
            "launcher='mpirun' is not allowed: must be one of torchrun, horovod",
        ),
        ({"batch_size": 0}, "batch_size=0 is out of range: must be 1 <= batch_size"),
        ({"lr": 0}, "lr=0 is out of range: must be 0 < lr <= 10"),
        (
            {"warmup_epochs": 2},
            "warmup_epochs=2 is out of range: must be warmup_epochs <= epochs (1)",
        ),
        (
            {"processes_per_host": (os.cpu_count() or 1) + 1},
            f"processes_per_host={(os.cpu_count() or 1) + 1} is out of range: must be "
            f"processes_per_host <= {os.cpu_count()}, the CPUs of this host",
        ),
    ],
)
def test_bad_hyperparameters_fail_with_the_rule(
    mnist: Path, tmp_path: Path, hyperparameters: dict[str, object], reason: str
) -> None:
    result = ProcessBackend().run(dnn_job(mnist, tmp_path / "job", hosts=1, **hyperparameters))
    assert result.status is JobStatus.FAILED
    assert result.hosts[0].exit_code == 1
    failure = result.hosts[0].failure or ""
    assert failure.startswith(reason), failure


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_too_many_processes_fails_both_hosts_at_once(mnist: Path, tmp_path: Path) -> None:
    too_many = (os.cpu_count() or 1) + 1
    spec = dnn_job(mnist, tmp_path / "job", hosts=2, processes_per_host=too_many)
    result = ProcessBackend().run(spec)
    assert result.status is JobStatus.FAILED
    assert result.wall_seconds < 30  # not the rendezvous' wait for a host that never joins
    rule = f"processes_per_host={too_many} is out of range"
    assert all(rule in (h.failure or "") for h in result.hosts), result.hosts
