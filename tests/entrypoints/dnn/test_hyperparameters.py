"""The DNN image's hyperparameters: each rule says the field, the value and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.dnn.hyperparameters import parse, processes_per_host


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"batch_size": "0"}, "batch_size=0 is out of range: must be 1 <= batch_size <= 65536"),
        ({"lr": "0"}, "lr=0 is out of range: must be 0 < lr <= 10"),
        ({"lr": "-0.1"}, "lr=-0.1 is out of range: must be 0 < lr <= 10"),
        (
            {"launcher": "mpirun"},
            "launcher='mpirun' is not allowed: must be one of torchrun, horovod",
        ),
        (
            {"warmup_epochs": "3"},
            "warmup_epochs=3 is out of range: must be warmup_epochs <= epochs (2)",
        ),
        (
            {"lr_scaling": "cubic"},
            "lr_scaling='cubic' is not allowed: must be one of none, linear, sqrt",
        ),
    ],
)
def test_bad_values_are_refused_with_the_rule(raw: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as error:
        parse({"epochs": "2", **raw})
    assert error.value.message.startswith(message), error.value.message


def test_processes_per_host_defaults_to_the_gpus_else_one() -> None:
    assert processes_per_host(0, cpus=8, gpus=0) == 1
    assert processes_per_host(0, cpus=8, gpus=4) == 4
    assert processes_per_host(2, cpus=2, gpus=0) == 2


@pytest.mark.parametrize(
    ("cpus", "gpus", "rule"), [(2, 0, "<= 2, the CPUs"), (64, 2, "<= 2, the GPUs")]
)
def test_more_processes_than_cpus_or_gpus_is_refused(cpus: int, gpus: int, rule: str) -> None:
    with pytest.raises(
        UserError, match=f"processes_per_host=3 is out of range: must be processes_per_host {rule}"
    ):
        processes_per_host(3, cpus=cpus, gpus=gpus)


def test_a_failed_worker_is_reported_with_its_own_kind_or_how_it_ended(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the launcher imports torch")
    from smtune.entrypoints.contract.errors import AlgorithmError, PlatformError, UserError
    from smtune.entrypoints.dnn.launch import WorkerFailure

    (tmp_path / "rank-3").write_text(json.dumps({"kind": "UserError", "message": "bad label"}))
    reported = WorkerFailure(rank=3, local_rank=1, exit_code=1).error("algo-2", tmp_path)
    assert isinstance(reported, UserError)
    assert reported.message == "worker rank 3 (local rank 1) on host algo-2 failed: bad label"
    killed = WorkerFailure(rank=0, local_rank=0, exit_code=-9).error("algo-1", tmp_path)
    assert isinstance(killed, PlatformError)
    assert killed.message == "worker rank 0 (local rank 0) on host algo-1 was killed by SIGKILL"
    silent = WorkerFailure(rank=1, local_rank=0, exit_code=1).error("algo-1", tmp_path)
    assert isinstance(silent, AlgorithmError) and "exited 1 without a reason" in silent.message
