"""GPU check of the DNN image's code: NCCL data-parallel training on every visible GPU.

One command, under 5 minutes on one modern GPU: lays MNIST out as channels, runs a 1-host
local job (process backend) with one worker per visible GPU (torchrun's launcher, NCCL),
and prints the backend each rank used, images/s per epoch and the final validation accuracy.

    python bench/gpu/dnn_gpu_check.py --source DIR_OF_MNIST_IDX [--epochs 3]

Exit 0 when every rank ran on a GPU with NCCL and accuracy > 0.98; 1 otherwise; 2 when no
GPU is visible. The same code path runs on CPUs (gloo) in the tests.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from containers.catalogue import image
from containers.data.mnist import prepare
from containers.local.job import JobSpec, JobStatus
from containers.local.layout import ChannelSource
from containers.local.process import ProcessBackend
from entrypoints.contract.config import S3DistributionType
from entrypoints.dnn.metrics import VALIDATION_ACCURACY

RANK_LINE = re.compile(r"rank (\d+) of (\d+) on (\S+) \((\S+)\)")
SPEED = re.compile(r"epoch (\d+): (\d+) images/s over (\d+) workers")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="folder of MNIST's 4 IDX files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--cpu-rehearsal",
        action="store_true",
        help="without a GPU: run this script's whole path on a subset with gloo, to check it",
    )
    args = parser.parse_args()
    gpus = torch.cuda.device_count()
    if gpus == 0 and not args.cpu_rehearsal:
        print("no GPU is visible to torch: nothing to check", file=sys.stderr)
        return 2
    workers, backend, floor = (gpus, "nccl", 0.98) if gpus else (1, "gloo", 0.8)
    limits = {} if gpus else {"train": 6000, "validation": 1000}
    nccl = torch.cuda.nccl.version() if gpus else None
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, NCCL {nccl}")
    for index in range(gpus):
        print(f"GPU {index}: {torch.cuda.get_device_name(index)}")
    with tempfile.TemporaryDirectory(prefix="dnn-gpu-") as root:
        data = Path(root) / "mnist"
        prepare(args.source, data, limits)
        replicated = S3DistributionType.FULLY_REPLICATED
        hyperparameters = {
            "epochs": args.epochs, "batch_size": 128, "optimizer": "adam", "lr": 0.001,
            "lr_scaling": "sqrt", "processes_per_host": workers, "launcher": "torchrun",
        }  # fmt: skip
        spec = JobSpec(
            image=image("dnn"),
            host_count=1,
            channels={n: ChannelSource(n, data / n, replicated) for n in ("train", "validation")},
            hyperparameters={k: str(v) for k, v in hyperparameters.items()},
            out=Path(root) / "job",
        )
        started = time.monotonic()
        result = ProcessBackend().run(spec)
        log = result.leader_log.read_text()
    print(f"job {result.status.value} in {time.monotonic() - started:.1f} s")
    ranks = RANK_LINE.findall(log)
    for rank, world, used_device, used_backend in ranks:
        print(f"rank {rank} of {world}: {used_device}, {used_backend}")
    for epoch, speed, n in SPEED.findall(log):
        print(f"epoch {epoch}: {speed} images/s over {n} workers")
    accuracy = [VALIDATION_ACCURACY.read(line) for line in log.splitlines() if line.startswith("[")]
    print(f"validation accuracy per epoch: {accuracy}")
    if result.status is not JobStatus.COMPLETED:
        print(f"FailureReason: {result.reason}\n{log[-3000:]}", file=sys.stderr)
        return 1
    device = "cuda" if gpus else "cpu"
    placed = len(ranks) == workers and all(
        d.startswith(device) and b == backend for _, _, d, b in ranks
    )
    good = bool(accuracy) and (accuracy[-1] or 0) > floor
    print(
        "PASS"
        if placed and good
        else f"FAIL: not every rank on {device} with {backend}, or accuracy <= {floor}"
    )
    return 0 if placed and good else 1


if __name__ == "__main__":
    sys.exit(main())
