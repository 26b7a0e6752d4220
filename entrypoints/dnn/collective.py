"""What a worker needs from its data-parallel library: ranks, sums, broadcasts, a wrapped model.

Two libraries, one interface: torch.distributed (started by torchrun's launcher; gloo on
CPU, NCCL on GPU) and Horovod (gloo). Both average gradients across every worker.
"""

from __future__ import annotations

import datetime
import os
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from smtune.entrypoints.dnn.gpus import horovod_refusal

# How long a collective call may wait for a peer before it fails (gloo's own default is
# 30 minutes); the host's lost-host watch usually ends a dead job much sooner.
COLLECTIVE_TIMEOUT_S = float(os.environ.get("SMTUNE_COLLECTIVE_TIMEOUT", "120"))


class Collective(ABC):
    rank: int
    size: int
    local_rank: int
    backend: str  # what carries the collectives: nccl, gloo, horovod+gloo

    @abstractmethod
    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of `tensor` over every worker."""

    @abstractmethod
    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj`, on every worker."""

    @abstractmethod
    def prepare(
        self, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The model and optimizer that average gradients; rank 0's parameters everywhere."""

    @abstractmethod
    def close(self) -> None: ...

    @staticmethod
    def unwrap(model: nn.Module) -> nn.Module:
        return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class TorchCollective(Collective):
    """torch.distributed, with the variables torchrun's launcher sets (RANK, WORLD_SIZE...)."""

    def __init__(self, device: torch.device) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.device = device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            self.backend,
            timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S),
            device_id=(device if device.type == "cuda" else None),
        )
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        self.local_rank = int(os.environ["LOCAL_RANK"])

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device)
        self.dist.all_reduce(tensor, op=self.dist.ReduceOp.SUM)
        return tensor.cpu()

    def broadcast(self, obj: Any) -> Any:
        box = [obj]
        self.dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def prepare(
        self, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> tuple[nn.Module, torch.optim.Optimizer]:
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids), optimizer

    def close(self) -> None:
        self.dist.destroy_process_group()


class HorovodCollective(Collective):
    """Horovod over gloo, with the variables our launcher sets (HOROVOD_RANK, ...)."""

    def __init__(self, device: torch.device) -> None:
        import horovod.torch as hvd

        # launch.py refused this before starting any worker; kept for workers started otherwise.
        gpus = torch.cuda.device_count() if device.type == "cuda" else 0
        refusal = horovod_refusal(gpus, bool(hvd.nccl_built()))
        if refusal is not None:
            raise refusal
        self.hvd = hvd
        self.backend = "horovod+gloo"
        hvd.init()
        self.rank, self.size, self.local_rank = hvd.rank(), hvd.size(), hvd.local_rank()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.hvd.allreduce(tensor.cpu(), op=self.hvd.Sum)

    def broadcast(self, obj: Any) -> Any:
        # Horovod matches collectives across workers by name, and names this one after the
        # object's type unless told: rank 0's checkpoint (a dict) against the others' None
        # would never match, and every worker would wait for ever.
        return self.hvd.broadcast_object(obj, root_rank=0, name="smtune.broadcast")

    def prepare(
        self, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> tuple[nn.Module, torch.optim.Optimizer]:
        # Optimizer state needs no broadcast: it starts empty everywhere, or from the
        # checkpoint that rank 0 broadcast.
        self.hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        wrapped = self.hvd.DistributedOptimizer(
            optimizer, named_parameters=model.named_parameters(), op=self.hvd.Average
        )
        return model, wrapped

    def close(self) -> None:
        self.hvd.shutdown()


def connect(launcher: str, device: torch.device) -> Collective:
    return HorovodCollective(device) if launcher == "horovod" else TorchCollective(device)
