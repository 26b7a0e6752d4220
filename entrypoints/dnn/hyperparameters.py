"""The hyperparameters the DNN image accepts: the seed's convergence controls, and the launcher."""

from __future__ import annotations

from typing import Any

from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.hyperparameters import (
    Boolean,
    Categorical,
    Continuous,
    HyperparameterSchema,
    Integer,
    Interval,
)

LAUNCHERS = ("torchrun", "horovod")
LR_SCALINGS = ("none", "linear", "sqrt")
OPTIMIZERS = ("sgd", "adam")

SCHEMA = HyperparameterSchema(
    [
        Integer("epochs", required=True, interval=Interval(1, 10_000)),
        Integer("batch_size", default=64, interval=Interval(1, 65_536)),
        # The seed multiplied each worker's mini-batch by the number of workers: the global
        # batch then grows with the square of the cluster, the usual cause of its collapse.
        Boolean("scale_batch_with_workers", default=False),
        Continuous("lr", default=0.01, interval=Interval(0, 10, low_open=True)),
        Categorical("lr_scaling", default="none", choices=LR_SCALINGS),
        Continuous("warmup_epochs", default=0.0, interval=Interval(0)),
        Categorical("optimizer", default="sgd", choices=OPTIMIZERS),
        Continuous("momentum", default=0.9, interval=Interval(0, 1, high_open=True)),
        Continuous("weight_decay", default=0.0, interval=Interval(0, 1)),
        Integer("seed", default=0, interval=Interval(0, 2**31 - 1)),
        Categorical("launcher", default="torchrun", choices=LAUNCHERS),
        # 0: one per GPU if the host has any, else 1.
        Integer("processes_per_host", default=0, interval=Interval(0, 1024)),
    ]
)


def parse(raw: dict[str, str]) -> dict[str, Any]:
    """Typed values, with the rules that tie two hyperparameters together."""
    hp = SCHEMA.parse(raw)
    if hp["warmup_epochs"] > hp["epochs"]:
        raise UserError(
            f"warmup_epochs={hp['warmup_epochs']:g} is out of range: must be warmup_epochs "
            f"<= epochs ({hp['epochs']})"
        )
    return hp


def processes_per_host(requested: int, cpus: int, gpus: int) -> int:
    """How many workers a host runs: as requested, or one per GPU, else one."""
    if requested == 0:
        return gpus or 1
    if gpus and requested > gpus:
        raise UserError(
            f"processes_per_host={requested} is out of range: must be processes_per_host <= "
            f"{gpus}, the GPUs of this host (one worker per GPU)"
        )
    if not gpus and requested > cpus:
        raise UserError(
            f"processes_per_host={requested} is out of range: must be processes_per_host <= "
            f"{cpus}, the CPUs of this host"
        )
    return requested
