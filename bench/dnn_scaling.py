"""The seed's DNN collapse, reproduced and fixed: MNIST on 1 worker vs 4 workers.

Three local jobs on the process backend, same epochs, same base hyperparameters:

- 1 worker (1 host x 1 process);
- 4 workers (2 hosts x 2 processes) with `scale_batch_with_workers`, as the seed did, and
  `lr_scaling=none`: the global batch is 16x larger, the step count 16x smaller;
- the same 4 workers with `lr_scaling=linear` and a warm-up.

Prints a Markdown table (final validation accuracy, drop vs 1 worker, wall time) and writes a
plot of validation accuracy per epoch.

    .venv/bin/python bench/dnn_scaling.py [--epochs 4] [--optimizer adam --lr 0.001]
        [--source ../shared/data/mnist] [--plot bench/plots/dnn-scaling.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from smtune.containers.catalogue import image
from smtune.containers.data.mnist import prepare
from smtune.containers.local.job import JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.dnn.metrics import VALIDATION_ACCURACY

BASE = {"batch_size": 64, "momentum": 0.9, "seed": 0}
VARIANTS: dict[str, tuple[int, int, dict[str, object]]] = {
    "1 worker": (1, 1, {}),
    "4 workers, seed's settings (batch x workers, lr as is)": (
        2,
        2,
        {"scale_batch_with_workers": "true", "lr_scaling": "none"},
    ),
    "4 workers, lr linear by workers + 1 warm-up epoch": (
        2,
        2,
        {"scale_batch_with_workers": "true", "lr_scaling": "linear", "warmup_epochs": 1},
    ),
}


def run(
    data: Path, out: Path, hosts: int, processes: int, extra: dict[str, object], epochs: int
) -> tuple[list[float | None], float]:
    replicated = S3DistributionType.FULLY_REPLICATED
    spec = JobSpec(
        image=image("dnn"),
        host_count=hosts,
        channels={n: ChannelSource(n, data / n, replicated) for n in ("train", "validation")},
        hyperparameters={
            k: str(v)
            for k, v in {**BASE, **extra, "epochs": epochs, "processes_per_host": processes}.items()
        },
        out=out,
    )
    result = ProcessBackend().run(spec)
    if result.status is not JobStatus.COMPLETED:
        raise SystemExit(f"{out.name}: {result.status.value}: {result.reason}")
    curve = [
        VALIDATION_ACCURACY.read(line)
        for line in result.leader_log.read_text().splitlines()
        if line.startswith("[")
    ]
    return curve, result.wall_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--lr", type=float, default=0.001, help="the base rate, for 1 worker")
    parser.add_argument("--source", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--plot", type=Path, default=Path("bench/plots/dnn-scaling.png"))
    args = parser.parse_args()
    BASE.update(optimizer=args.optimizer, lr=args.lr)
    curves = {}
    with tempfile.TemporaryDirectory(prefix="dnn-scaling-") as root:
        data = Path(root) / "mnist"
        prepare(args.source, data, {})
        for i, (name, (hosts, processes, extra)) in enumerate(VARIANTS.items()):
            curves[name] = run(data, Path(root) / f"job-{i}", hosts, processes, extra, args.epochs)
            print(f"{name}: {curves[name][0]} in {curves[name][1]:.0f} s", flush=True)
    one = curves["1 worker"][0][-1]
    print(f"\nMNIST, {args.epochs} epochs, {BASE}\n")
    print("| run | workers | final validation accuracy | vs 1 worker (points) | wall, s |")
    print("|---|---|---|---|---|")
    for name, (curve, wall) in curves.items():
        workers = VARIANTS[name][0] * VARIANTS[name][1]
        drop = 100 * (curve[-1] - one)
        print(f"| {name} | {workers} | {curve[-1]:.4f} | {drop:+.2f} | {wall:.0f} |")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for name, (curve, _) in curves.items():
        axes.plot(range(1, len(curve) + 1), curve, marker="o", label=name)
    axes.set(xlabel="epoch", ylabel="validation accuracy", title="MNIST: 1 vs 4 workers")
    axes.set_xticks(range(1, args.epochs + 1))
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.plot, dpi=100, bbox_inches="tight")
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
