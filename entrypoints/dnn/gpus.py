"""What the DNN image runs on a host's GPUs: what `--check` says, and which launcher may use them.

Workers take every GPU torch sees (CUDA_VISIBLE_DEVICES narrows them), one each, and talk
NCCL there (`collective.TorchCollective`); without a GPU they run on CPUs with gloo.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtune.entrypoints.contract.errors import UserError


@dataclass(frozen=True)
class Accelerators:
    """torch's build and the GPUs it sees on this host.

    Args:
        torch_version: e.g. `2.13.0` or `2.13.0+cpu`.
        cuda: The CUDA version torch was built with; None for the CPU build.
        nccl: NCCL's version in the CUDA build, e.g. `2.29.7`; None for the CPU build.
        gpus: The model of each visible GPU, in device order.
    """

    torch_version: str
    cuda: str | None
    nccl: str | None
    gpus: tuple[str, ...]

    @classmethod
    def here(cls) -> Accelerators:
        import torch

        cuda = torch.version.cuda
        nccl = None
        if cuda:  # NCCL's version needs no GPU, only the CUDA build; a tuple since torch 1.13
            nccl = ".".join(map(str, torch.cuda.nccl.version()))
        count = torch.cuda.device_count() if cuda else 0
        names = tuple(torch.cuda.get_device_name(index) for index in range(count))
        return cls(torch.__version__, cuda, nccl, names)

    def check_line(self) -> str:
        """What the image's `--check` prints: the CPU build's line is unchanged."""
        if self.cuda is None:
            return f"torch {self.torch_version}: ready to train"
        build = f"torch {self.torch_version} (CUDA {self.cuda}, NCCL {self.nccl})"
        if not self.gpus:
            return f"{build}: found no GPU, ready to train on CPUs with gloo"
        models = ", ".join(sorted(set(self.gpus)))
        return f"{build}: found {len(self.gpus)} GPU(s) ({models}), ready to train with NCCL"


def horovod_refusal(gpus: int, nccl_built: bool) -> UserError | None:
    """Why `launcher=horovod` cannot use this host's GPUs, or None where it can (no GPU, or
    a Horovod built with NCCL). The image's Horovod is built for gloo on CPUs: on GPUs its
    workers would fail one by one with a tensor on the wrong device."""
    if gpus == 0 or nccl_built:
        return None
    return UserError(
        f"launcher=horovod is not supported on this host's {gpus} GPU(s): this image's "
        "Horovod is built for CPUs (gloo) only, without NCCL (HOROVOD_GPU_OPERATIONS=NCCL); "
        "use launcher=torchrun, which runs one worker per GPU with NCCL"
    )
