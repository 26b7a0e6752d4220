"""GPU check of the DNN image's code: NCCL data-parallel training on every visible GPU.

One command, a few minutes on one modern GPU: lays MNIST out as channels, runs a 1-host local
job (process backend: the image's own `train` path, torchrun's launcher) with one worker per
visible GPU, and, where there are several, a second job on one GPU. It prints the GPUs, the
NCCL version, each rank's device and backend, images/s and the validation accuracy, and
records them in a JSON file (bench/gpu/results.json), keeping the keys of other runs:

    python bench/gpu/dnn_gpu_check.py --source DIR_OF_MNIST_IDX [--epochs 3]
    python bench/gpu/dnn_gpu_check.py --source DIR_OF_MNIST_IDX --cpu

--cpu hides the GPUs and runs 1 worker with gloo on a 3,000-image subset: it records
`cpu_images_per_second`, the same code's speed on this machine's CPUs.

Exit 0 when every rank ran where it should (GPU and NCCL; --cpu: CPU and gloo) and the
accuracy reached its line (0.97 on GPUs; 0.8 for --cpu's subset), 1 otherwise, 2 when no GPU
is visible without --cpu.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from smtune.containers.catalogue import image
from smtune.containers.data.mnist import prepare
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.dnn.gpus import Accelerators
from smtune.entrypoints.dnn.metrics import VALIDATION_ACCURACY

RESULTS = Path(__file__).with_name("results.json")
RANK_LINE = re.compile(r"rank (\d+) of (\d+) on (\S+) \((\S+)\)")
SPEED = re.compile(r"epoch (\d+): (\d+) images/s over (\d+) workers")
HYPERPARAMETERS = {"batch_size": 128, "optimizer": "adam", "lr": 0.001, "lr_scaling": "sqrt"}
GPU_FLOOR, CPU_FLOOR = 0.97, 0.8
CPU_LIMITS: dict[str, int | None] = {"train": 3000, "validation": 500}


@dataclass(frozen=True)
class Run:
    """One job's outcome, read off its leader's log."""

    workers: int
    seconds: float
    ranks: list[tuple[str, str]]  # (device, backend) of each rank
    images_per_second: list[int]  # per epoch
    accuracy: list[float | None]  # validation accuracy per epoch
    failure: str | None  # FailureReason and the log's end, when the job failed

    def placed_on(self, device: str, backend: str) -> bool:
        return len(self.ranks) == self.workers and all(
            d.startswith(device) and b == backend for d, b in self.ranks
        )

    @property
    def final_accuracy(self) -> float:
        return (self.accuracy[-1] or 0.0) if self.accuracy else 0.0

    @property
    def steady_images_per_second(self) -> int:
        """The last epoch's: the first also pays for start-up (CUDA context, NCCL's rings)."""
        return self.images_per_second[-1] if self.images_per_second else 0


def train(data: Path, out: Path, workers: int, epochs: int, visible: str | None) -> Run:
    """Runs the DNN's `train` on 1 local host with `workers` workers; `visible` is the
    job's CUDA_VISIBLE_DEVICES ("" hides every GPU; None leaves it as it is)."""
    hyperparameters = {**HYPERPARAMETERS, "epochs": epochs, "processes_per_host": workers}
    replicated = S3DistributionType.FULLY_REPLICATED
    spec = JobSpec(
        image=image("dnn"),
        host_count=1,
        channels={n: ChannelSource(n, data / n, replicated) for n in ("train", "validation")},
        hyperparameters={k: str(v) for k, v in hyperparameters.items()},
        out=out,
    )
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible  # the host process inherits it
    started = time.monotonic()
    try:
        result = ProcessBackend().run(spec)
    finally:
        if saved is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved
    seconds = time.monotonic() - started
    log = result.leader_log.read_text()
    failure = None
    if result.status is not JobStatus.COMPLETED:
        failure = f"FailureReason: {result.reason}\n{log[-3000:]}"
    lines = log.splitlines()
    return Run(
        workers=workers,
        seconds=seconds,
        ranks=[(d, b) for _, _, d, b in RANK_LINE.findall(log)],
        images_per_second=[int(speed) for _, speed, _ in SPEED.findall(log)],
        accuracy=[VALIDATION_ACCURACY.read(line) for line in lines if line.startswith("[")],
        failure=failure,
    )


def report(name: str, run: Run) -> None:
    print(f"{name}: {run.workers} worker(s), {run.seconds:.1f} s")
    for rank, (device, backend) in enumerate(run.ranks):
        print(f"  rank {rank}: {device}, {backend}")
    print(f"  images/s per epoch: {run.images_per_second}")
    print(f"  validation accuracy per epoch: {run.accuracy}")
    if run.failure:
        print(run.failure, file=sys.stderr)


def record(path: Path, values: dict[str, object]) -> None:
    """Adds `values` to the JSON file, keeping what other runs wrote there."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update(values)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"recorded in {path}: {json.dumps(values, sort_keys=True)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="folder of MNIST's 4 IDX files")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 on GPUs, 2 with --cpu")
    parser.add_argument("--cpu", action="store_true", help="hide the GPUs: gloo on 1 CPU worker")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON file to update")
    args = parser.parse_args()
    found = Accelerators.here()
    print(f"torch {found.torch_version}, CUDA {found.cuda}, NCCL {found.nccl}")
    print(f"gpus: {len(found.gpus)}, gpu_model: {found.gpus[0] if found.gpus else None}")
    if not found.gpus and not args.cpu:
        print("no GPU is visible to torch: nothing to check (--cpu runs on CPUs)", file=sys.stderr)
        return 2
    epochs = args.epochs or (2 if args.cpu else 3)
    measured = {
        "torch": found.torch_version,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "epochs": epochs,
    }
    with tempfile.TemporaryDirectory(prefix="dnn-gpu-") as root:
        data = Path(root) / "mnist"
        prepare(args.source, data, CPU_LIMITS if args.cpu else {})
        if args.cpu:
            run = train(data, Path(root) / "cpu", 1, epochs, visible="")
            report("CPU, gloo", run)
            ok = run.placed_on("cpu", "gloo") and run.final_accuracy >= CPU_FLOOR
            if ok:
                record(
                    args.results,
                    {
                        "cpu_images_per_second": run.steady_images_per_second,
                        # The load says how far other jobs shared the CPUs.
                        "cpu": {**measured, "cpus": os.cpu_count(), "workers": 1,
                                "train_examples": CPU_LIMITS["train"],
                                "accuracy": run.final_accuracy,
                                "load_average_1m": round(os.getloadavg()[0], 1)},
                    },
                )  # fmt: skip
        else:
            runs = {len(found.gpus): train(data, Path(root) / "all", len(found.gpus), epochs, None)}
            if len(found.gpus) > 1:
                runs[1] = train(data, Path(root) / "one", 1, epochs, visible="0")
            for count, run in sorted(runs.items()):
                report(f"{count} GPU(s), NCCL", run)
            everywhere = runs[len(found.gpus)]
            ok = all(
                run.placed_on("cuda", "nccl") and run.final_accuracy >= GPU_FLOOR
                for run in runs.values()
            )
            if ok:
                record(
                    args.results,
                    {
                        "gpus": len(found.gpus),
                        "gpu_model": found.gpus[0],
                        "nccl": found.nccl,
                        "cuda": found.cuda,
                        "images_per_second": everywhere.steady_images_per_second,
                        "images_per_second_1_gpu": runs[1].steady_images_per_second,
                        "accuracy": everywhere.final_accuracy,
                        "gpu": measured,
                    },
                )
    floor = CPU_FLOOR if args.cpu else GPU_FLOOR
    print("PASS" if ok else f"FAIL: a rank ran elsewhere, or the accuracy stayed below {floor}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
