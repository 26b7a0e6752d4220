"""SDK v2's `distribution`, read from its sagemaker_* hyperparameters into a typed value."""

from __future__ import annotations

import logging

import pytest

from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.script.distribution import (
    Distribution,
    DistributionConfig,
    parse_distribution,
)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, DistributionConfig()),
        ({"sagemaker_torch_distributed_enabled": False}, DistributionConfig()),
        (
            {"sagemaker_torch_distributed_enabled": True},
            DistributionConfig(
                Distribution.TORCH_DISTRIBUTED, None, "sagemaker_torch_distributed_enabled"
            ),
        ),
        (
            {"sagemaker_pytorch_ddp_enabled": "true"},
            DistributionConfig(
                Distribution.TORCH_DISTRIBUTED, None, "sagemaker_pytorch_ddp_enabled"
            ),
        ),
        (
            {"sagemaker_distributed_dataparallel_enabled": True},  # SDK v2.257's pytorchddp
            DistributionConfig(
                Distribution.TORCH_DISTRIBUTED, None, "sagemaker_distributed_dataparallel_enabled"
            ),
        ),
        (
            {"sagemaker_mpi_enabled": True, "sagemaker_mpi_num_of_processes_per_host": 2},
            DistributionConfig(Distribution.MPI, 2, "sagemaker_mpi_enabled"),
        ),
        (
            {"sagemaker_mpi_enabled": True},
            DistributionConfig(Distribution.MPI, None, "sagemaker_mpi_enabled"),
        ),
    ],
)
def test_each_distribution_is_read(params: dict[str, object], expected: DistributionConfig) -> None:
    assert parse_distribution(params) == expected


def test_processes_per_host_one_per_gpu_or_one_on_cpu_unless_mpi_asks() -> None:
    assert DistributionConfig().processes(gpus=8) == 1
    torchrun = DistributionConfig(Distribution.TORCH_DISTRIBUTED)
    assert (torchrun.processes(gpus=0), torchrun.processes(gpus=4)) == (1, 4)
    assert DistributionConfig(Distribution.MPI, 3).processes(gpus=8) == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"sagemaker_mpi_enabled": True, "sagemaker_torch_distributed_enabled": True},
            "at most one may be true",
        ),
        ({"sagemaker_mpi_enabled": "yes"}, r"sagemaker_mpi_enabled='yes' .* must be true or false"),
        (
            {"sagemaker_mpi_enabled": True, "sagemaker_mpi_num_of_processes_per_host": 0},
            r"sagemaker_mpi_num_of_processes_per_host=0 .* must be an integer >= 1",
        ),
        (
            {"sagemaker_mpi_enabled": True, "sagemaker_mpi_num_of_processes_per_host": "2"},
            r"num_of_processes_per_host='2' .* integer >= 1",
        ),
        (
            {"sagemaker_parameter_server_enabled": True},
            r"parameter server, which smtune's images do not run",
        ),
    ],
)
def test_bad_distributions_are_refused_naming_the_field_value_and_rule(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        parse_distribution(params)


def test_custom_mpi_options_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        parsed = parse_distribution(
            {"sagemaker_mpi_enabled": True, "sagemaker_mpi_custom_mpi_options": "-x FOO"}
        )
    assert parsed.kind is Distribution.MPI
    assert "sagemaker_mpi_custom_mpi_options='-x FOO' is ignored" in caplog.text


def test_a_distribution_whose_library_the_image_lacks_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "horovod" else real(name)
    )
    DistributionConfig(Distribution.TORCH_DISTRIBUTED, None, "x").check_image()
    mpi = DistributionConfig(Distribution.MPI, None, "sagemaker_mpi_enabled")
    with pytest.raises(UserError, match=r"sagemaker_mpi_enabled=true needs horovod, which"):
        mpi.check_image()
