"""How each host launches the script: SDK v2's `distribution`, read from its hyperparameters.

SDK v2's PyTorch estimator turns `distribution=` into `sagemaker_*` hyperparameters:
`{"torch_distributed": {"enabled": True}}` into `sagemaker_torch_distributed_enabled`,
`{"pytorchddp": ...}` into `sagemaker_pytorch_ddp_enabled`, `{"mpi": {"enabled": True,
"processes_per_host": 2, "custom_mpi_options": ...}}` into `sagemaker_mpi_enabled`,
`sagemaker_mpi_num_of_processes_per_host` and `sagemaker_mpi_custom_mpi_options`.
"""

from __future__ import annotations

import enum
import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smtune.entrypoints.contract.errors import UserError

logger = logging.getLogger(__name__)

TORCH_DISTRIBUTED = "sagemaker_torch_distributed_enabled"
PYTORCH_DDP = "sagemaker_pytorch_ddp_enabled"
MPI = "sagemaker_mpi_enabled"
MPI_PROCESSES_PER_HOST = "sagemaker_mpi_num_of_processes_per_host"
MPI_CUSTOM_OPTIONS = "sagemaker_mpi_custom_mpi_options"
#: SDK v2.257 sends `pytorchddp` as smdistributed dataparallel, a library these images lack;
#: such a job runs under torchrun, with a warning.
SMDDP = "sagemaker_distributed_dataparallel_enabled"
#: Distributions of SageMaker's other containers or libraries, which these images lack.
UNSUPPORTED = {
    "sagemaker_parameter_server_enabled": "TensorFlow's parameter server",
    "sagemaker_multi_worker_mirrored_strategy_enabled": "TensorFlow's MultiWorkerMirrored",
    "sagemaker_pytorch_xla_multi_worker_enabled": "PyTorch/XLA",
}


class Distribution(enum.Enum):
    """The launcher a host runs the script with."""

    NONE = "none"  # the script once per host, as `python train.py args`
    TORCH_DISTRIBUTED = "torch_distributed"  # torchrun across hosts (also SDK's pytorchddp)
    MPI = "mpi"  # Horovod over gloo: processes_per_host per host, no mpirun, no sshd


@dataclass(frozen=True)
class DistributionConfig:
    """A Distribution and its settings.

    Args:
        kind: The launcher.
        processes_per_host: With MPI: `sagemaker_mpi_num_of_processes_per_host`, if given;
            None: one per GPU, or one on a host without GPUs.
        requested_by: The hyperparameter that asked for it (None for NONE), for messages.
    """

    kind: Distribution = Distribution.NONE
    processes_per_host: int | None = None
    requested_by: str | None = None

    def missing_library(self) -> str | None:
        """The library its launcher needs that this image lacks (the XGBoost image has
        neither torch nor Horovod), or None."""
        needed = {Distribution.TORCH_DISTRIBUTED: "torch", Distribution.MPI: "horovod"}
        library = needed.get(self.kind)
        if library is None or importlib.util.find_spec(library) is not None:
            return None
        return library

    def check_image(self) -> None:
        """A UserError when this image cannot run the distribution."""
        library = self.missing_library()
        if library is not None:
            raise UserError(
                f"{self.requested_by}=true needs {library}, which this image lacks: run the "
                "script on smtune's DNN image (smtune-dnn), or without distribution"
            )

    def processes(self, gpus: int) -> int:
        """Processes on each host: as asked (MPI), else one per GPU, or one without GPUs."""
        if self.kind is Distribution.NONE:
            return 1
        return self.processes_per_host or max(1, gpus)


def _enabled(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, str):  # a value that was not JSON: the text itself
        value = value.strip().lower()
        if value in ("true", "false"):
            return value == "true"
    if not isinstance(value, bool):
        raise UserError(f"{name}={value!r} is not allowed: must be true or false")
    return value


def parse_distribution(params: Mapping[str, Any]) -> DistributionConfig:
    """The distribution the `sagemaker_*` hyperparameters ask for (values decoded from JSON).

    Raises:
        UserError: Naming the hyperparameter, its value and the rule: a distribution these
            images lack, two at once, or processes per host below 1.
    """
    for name, what in UNSUPPORTED.items():
        if name in params and _enabled(params, name):
            raise UserError(
                f"{name}=true asks for {what}, which smtune's images do not run: "
                "use distribution torch_distributed, pytorchddp or mpi"
            )
    asked = {
        name: kind
        for name, kind in (
            (TORCH_DISTRIBUTED, Distribution.TORCH_DISTRIBUTED),
            (PYTORCH_DDP, Distribution.TORCH_DISTRIBUTED),
            (SMDDP, Distribution.TORCH_DISTRIBUTED),
            (MPI, Distribution.MPI),
        )
        if _enabled(params, name)
    }
    if len(asked) > 1:
        raise UserError(
            f"{' and '.join(sorted(asked))} are all true: a job runs one distribution, "
            "so at most one may be true"
        )
    if not asked:
        return DistributionConfig()
    ((name, kind),) = asked.items()
    if name == SMDDP:
        logger.warning(
            "%s=true (SDK v2 sends pytorchddp so): smdistributed is not in these images; the "
            "script runs under torchrun, and fails if it imports smdistributed",
            SMDDP,
        )
    if kind is not Distribution.MPI:
        return DistributionConfig(kind, requested_by=name)
    if params.get(MPI_CUSTOM_OPTIONS):
        logger.warning(
            "%s=%r is ignored: these images run Horovod over gloo, without mpirun",
            MPI_CUSTOM_OPTIONS, params[MPI_CUSTOM_OPTIONS],
        )  # fmt: skip
    return DistributionConfig(kind, _processes_per_host(params), name)


def _processes_per_host(params: Mapping[str, Any]) -> int | None:
    value = params.get(MPI_PROCESSES_PER_HOST)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(
            f"{MPI_PROCESSES_PER_HOST}={value!r} is not allowed: must be an integer >= 1"
        )
    return value
