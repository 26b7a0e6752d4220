"""Who this process is among the job's workers, and the two collectives the toolkit needs.

The rank comes from the data-parallel library the script already started, else from the
launcher's variables, else from SageMaker's hosts (one process per host):

1. torch.distributed, once `init_process_group` ran: its rank and world size;
2. Horovod (`horovod.torch`), once `hvd.init()` ran;
3. RANK / WORLD_SIZE (torchrun), HOROVOD_RANK / HOROVOD_SIZE, OMPI_COMM_WORLD_RANK /
   OMPI_COMM_WORLD_SIZE (mpirun), DMLC_TASK_ID / DMLC_NUM_WORKER (XGBoost's collective);
4. SM_CURRENT_HOST's index in sorted(SM_HOSTS): SageMaker's leader is sorted(hosts)[0];
5. else rank 0 of 1.

Neither library is imported here: a script that started one has imported it already, and
a script that did not pays nothing for it.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

_RANK_VARIABLES = (
    ("RANK", "WORLD_SIZE"),
    ("HOROVOD_RANK", "HOROVOD_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("DMLC_TASK_ID", "DMLC_NUM_WORKER"),  # XGBoost's collective (`collective`)
)


class Backend(enum.Enum):
    """What carries the collectives between this process and its peers."""

    NONE = "none"  # a single process, or processes that do not talk to each other
    TORCH = "torch.distributed"
    HOROVOD = "horovod"


def backend() -> Backend:
    """The data-parallel library this process has started, if any."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return Backend.TORCH
    hvd = sys.modules.get("horovod.torch")
    if hvd is not None and hvd.is_initialized():
        return Backend.HOROVOD
    return Backend.NONE


def rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's global rank: 0 on exactly one process of the job."""
    return _place(environ)[0]


def world_size(environ: Mapping[str, str] | None = None) -> int:
    """How many processes train together."""
    return _place(environ)[1]


def is_leader(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this is global rank 0: the one process that prints metrics and checkpoints."""
    return rank(environ) == 0


def _place(environ: Mapping[str, str] | None) -> tuple[int, int]:
    found = backend()
    if found is Backend.TORCH:
        dist = sys.modules["torch.distributed"]
        return dist.get_rank(), dist.get_world_size()
    if found is Backend.HOROVOD:
        hvd = sys.modules["horovod.torch"]
        return hvd.rank(), hvd.size()
    environ = os.environ if environ is None else environ
    for rank_variable, size_variable in _RANK_VARIABLES:
        if rank_variable in environ:
            return int(environ[rank_variable]), int(environ.get(size_variable, "1"))
    hosts, current = environ.get("SM_HOSTS"), environ.get("SM_CURRENT_HOST")
    if hosts and current:
        ordered = sorted(json.loads(hosts))
        if current in ordered:
            return ordered.index(current), len(ordered)
    return 0, 1


def any_true(value: bool) -> bool:
    """True on every rank if `value` is true on any rank.

    A collective where a library is started: every rank must call it at the same point.
    """
    found = backend()
    if found is Backend.NONE:
        return value
    return _sum([1.0 if value else 0.0], found)[0] > 0


def broadcast(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (a collective where a library is started)."""
    found = backend()
    if found is Backend.TORCH:
        dist = sys.modules["torch.distributed"]
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=_torch_device())
        return box[0]
    if found is Backend.HOROVOD:
        # Horovod matches collectives by name, and names this one after the object's type
        # unless told: rank 0's dict against the others' None would wait for ever.
        hvd = sys.modules["horovod.torch"]
        return hvd.broadcast_object(obj, root_rank=0, name="smtune.toolkit.broadcast")
    return obj


def _sum(values: Sequence[float], found: Backend) -> list[float]:
    import torch

    tensor = torch.tensor(list(values))
    if found is Backend.HOROVOD:
        hvd = sys.modules["horovod.torch"]
        return [float(v) for v in hvd.allreduce(tensor, op=hvd.Sum, name="smtune.toolkit.sum")]
    dist = sys.modules["torch.distributed"]
    device = _torch_device()
    if device is not None:
        tensor = tensor.to(device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.cpu()]


def _torch_device() -> Any:
    """The device torch.distributed's collectives need: NCCL's are on this rank's GPU."""
    import torch

    dist = sys.modules["torch.distributed"]
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return None
