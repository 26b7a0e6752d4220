"""A training script of your own on smtune's PyTorch image: an MLP on MNIST-format IDX files.

Script mode runs it as SageMaker's framework containers do: hyperparameters arrive as
`--name value` arguments, folders as SM_* variables, and under torchrun every worker gets
RANK and WORLD_SIZE. It runs alone too (`python train.py --epochs 1` with SM_CHANNEL_TRAIN
set). It uses torch and smtune's toolkit only; the toolkit makes it a good citizen of a
tuning job: one metric line per epoch from rank 0, checkpoints in the CheckpointConfig
folder, and a stop (SIGTERM) honoured at the same step on every worker.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import struct
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from smtune.entrypoints.toolkit import checkpoints, metrics, schedule, shard, stop

# Give a tuning job these: metrics.definitions(METRICS) are its MetricDefinitions.
TRAIN_LOSS = metrics.MetricSpec("train:loss", "train-loss", metrics.Direction.MINIMIZE)
ACCURACY = metrics.MetricSpec(
    "validation:accuracy", "validation-accuracy", metrics.Direction.MAXIMIZE
)
METRICS = (TRAIN_LOSS, ACCURACY)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=64, help="per worker")
    parser.add_argument("--lr", type=float, default=0.05, help="of one worker")
    parser.add_argument("--lr_scaling", default="sqrt", choices=("none", "linear", "sqrt"))
    parser.add_argument("--warmup_epochs", type=float, default=0.5)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=Path, default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", type=Path, default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--model_dir", type=Path, default=os.environ.get("SM_MODEL_DIR", "model"))
    # A tuning job may pass hyperparameters of its own: ignore them, but say so (a typo too).
    args, unknown = parser.parse_known_args()
    if unknown:
        logging.warning("ignoring arguments this script does not declare: %s", unknown)
    return args


def read_idx(path: Path) -> np.ndarray:
    data = path.read_bytes()
    data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    dims = data[3]  # magic 0x00000803: images (3 dims), 0x00000801: labels (1)
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def read_channel(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """A channel's images (as flat floats in [0, 1]) and labels, told apart by their shape."""
    arrays = sorted((read_idx(p) for p in folder.iterdir() if p.is_file()), key=np.ndim)
    labels, images = arrays  # exactly two IDX files, as MNIST ships them
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())


def main() -> None:
    args = arguments()
    stopping = stop.StopSignal.install()  # before anything slow: a stop may come at once
    if "WORLD_SIZE" in os.environ:  # started by torchrun
        dist.init_process_group("gloo")
    world = dist.get_world_size() if dist.is_initialized() else 1
    torch.manual_seed(args.seed)  # the same initial weights on every worker
    x, y = read_channel(args.train)
    validation = read_channel(args.validation) if args.validation else None

    net = nn.Sequential(nn.Linear(784, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    saved = checkpoints.Checkpoints.from_environment()  # enabled with a CheckpointConfig
    resumed = saved.resume()  # rank 0's newest whole checkpoint, on every worker
    start, first_step = (0, 0) if resumed is None else resumed.position
    if resumed is not None:
        net.load_state_dict(resumed.state["model"])
        optimizer.load_state_dict(resumed.state["optimizer"])
    model = nn.parallel.DistributedDataParallel(net) if dist.is_initialized() else net

    def state() -> dict[str, object]:
        return {"model": net.state_dict(), "optimizer": optimizer.state_dict()}

    steps = shard.steps_per_epoch(len(y), args.batch_size)
    lr = schedule.LRSchedule(
        args.lr,
        workers=world,
        scaling=schedule.LRScaling(args.lr_scaling),
        warmup_steps=schedule.warmup_steps(args.warmup_epochs, steps),
    )
    for epoch in range(start, args.epochs):
        mine = torch.from_numpy(shard.epoch_indices(len(y), epoch, seed=args.seed))
        model.train()
        losses = []
        for step in range(first_step, steps):
            if stopping.should_stop():  # on every worker at the same step
                saved.save(state(), epoch=epoch, step=step)  # resumes at this very step
                return
            lr.apply(optimizer, epoch * steps + step)
            batch = mine[step * args.batch_size : (step + 1) * args.batch_size]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        first_step = 0
        # Rank 0's own shard's loss: enough for a curve; an allreduce would give all ranks'.
        values = {TRAIN_LOSS: float(np.mean(losses))}
        if validation is not None:
            values[ACCURACY] = accuracy(net, *validation)
        metrics.report(epoch, values)  # printed by rank 0 only
        saved.save(state(), epoch=epoch + 1)

    if not dist.is_initialized() or dist.get_rank() == 0:
        args.model_dir.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), args.model_dir / "model.pt")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
