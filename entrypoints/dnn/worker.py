"""One data-parallel worker: `python -m smtune.entrypoints.dnn.worker`, started by a launcher.

Every worker reads the whole channel and trains on its own shard of each epoch's shuffled
order; gradients are averaged across workers at every step. Global rank 0 prints the metric
line of each epoch, writes checkpoints (when the job has a CheckpointConfig) and the model.

Built on `entrypoints.toolkit`, the library a user's own script may import: its metric
lines, learning-rate schedule, shards, checkpoints and stop agreement are the toolkit's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from smtune.entrypoints.contract.config import TrainingEnvironment
from smtune.entrypoints.contract.errors import AlgorithmError, TrainingError
from smtune.entrypoints.contract.lifecycle import StopFlag, exit_process
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.dnn.collective import Collective, connect
from smtune.entrypoints.dnn.data import Examples, read_channel
from smtune.entrypoints.dnn.hyperparameters import parse
from smtune.entrypoints.dnn.metrics import TRAIN_LOSS, VALIDATION_ACCURACY, VALIDATION_LOSS
from smtune.entrypoints.dnn.model import ARCHITECTURE, build
from smtune.entrypoints.toolkit import metrics, shard
from smtune.entrypoints.toolkit.checkpoints import Checkpoints
from smtune.entrypoints.toolkit.schedule import LRScaling, LRSchedule, warmup_steps
from smtune.entrypoints.toolkit.stop import StopSignal

logger = logging.getLogger("smtune.entrypoints.dnn.worker")

#: A folder where a failing worker leaves its reason, `rank-<N>`, for its host to report.
REPORTS_VARIABLE = "SMTUNE_WORKER_REPORTS"
EVAL_BATCH = 1000
# What the worker reads back from a checkpoint (`Trainer._checkpoint` writes them); one
# without them is damaged, and the resume falls back to the one before.
CHECKPOINT_KEYS = frozenset({"epoch", "step", "loss_shares", "model", "optimizer", "rng", "world"})


@dataclass
class Progress:
    """Where training stands: the next step to run, and the epoch's running loss."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0


def tensors(examples: Examples, mean: float, std: float) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(examples.images.astype(np.float32) / 255.0)
    return ((images - mean) / std).unsqueeze(1), torch.from_numpy(examples.labels.astype(np.int64))


def parameters_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class Trainer:
    def __init__(self, env: TrainingEnvironment, stop: StopFlag) -> None:
        self.env = env
        self.stop = StopSignal(stop)
        self.checkpoints = Checkpoints(
            env.checkpoint_dir, enabled=env.checkpointing, required=CHECKPOINT_KEYS
        )
        self.hp = parse(env.hyperparameters)
        cuda = torch.cuda.is_available()
        local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("HOROVOD_LOCAL_RANK", "0")))
        self.device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.collective: Collective = connect(self.hp["launcher"], self.device)
        self.rank, self.world = self.collective.rank, self.collective.size
        torch.manual_seed(self.hp["seed"])

        train = read_channel(env.channels["train"])
        mean = float(train.images.mean()) / 255.0
        std = float(train.images.std()) / 255.0
        # The data sits on the worker's device once, not a copy per step (60,000 MNIST
        # images are 188 MB as float32).
        x, y = tensors(train, mean, std)
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.validation = None
        if "validation" in env.channels:
            vx, vy = tensors(read_channel(env.channels["validation"]), mean, std)
            mine = slice(self.rank, None, self.world)
            self.validation = (vx[mine].to(self.device), vy[mine].to(self.device))

        self.batch = self.hp["batch_size"] * (
            self.world if self.hp["scale_batch_with_workers"] else 1
        )
        self.steps_per_epoch = shard.steps_per_epoch(len(self.y), self.batch, self.world)
        self.lr = LRSchedule(
            self.hp["lr"],
            workers=self.world,
            scaling=LRScaling(self.hp["lr_scaling"]),
            warmup_steps=warmup_steps(self.hp["warmup_epochs"], self.steps_per_epoch),
        )
        model = build().to(self.device)
        state = self._checkpoint_state()
        if state is not None:
            model.load_state_dict(state["model"])
            torch.set_rng_state(state["rng"])
        # The optimizer's state goes in after the library wrapped it: Horovod's wrapper is a
        # new optimizer over the same parameters, which would start with no momentum.
        self.model, self.optimizer = self.collective.prepare(model, self._optimizer(model))
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.progress = self._progress(state)
        logger.info(
            "rank %d of %d on %s (%s): %d examples, batch %d per worker (global %d), "
            "%d steps per epoch",
            self.rank, self.world, self.device, self.collective.backend, len(self.y),
            self.batch, self.batch * self.world, self.steps_per_epoch,
        )  # fmt: skip

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        hp = self.hp
        if hp["optimizer"] == "adam":
            return torch.optim.Adam(
                model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"]
            )
        return torch.optim.SGD(
            model.parameters(),
            lr=hp["lr"],
            momentum=hp["momentum"],
            weight_decay=hp["weight_decay"],
        )

    def _checkpoint_state(self) -> dict[str, Any] | None:
        """Rank 0 reads the newest checkpoint; every rank gets what it broadcasts. A job
        without a CheckpointConfig (the same on every host) has none to read."""
        resumed = self.checkpoints.resume()
        return None if resumed is None else resumed.state

    def _progress(self, state: dict[str, Any] | None) -> Progress:
        """Where a checkpoint puts this rank: its epoch, its step and its running loss."""
        if state is None:
            return Progress()
        if state["step"] == 0:
            return Progress(state["epoch"])
        if state["world"] != self.world:
            # A step inside an epoch means a shard of another world's order: redo the epoch.
            logger.warning(
                "checkpoint of %d workers, now %d: the epoch restarts", state["world"], self.world
            )
            return Progress(state["epoch"])
        loss_sum, loss_count = state["loss_shares"][self.rank]
        return Progress(state["epoch"], state["step"], loss_sum, int(loss_count))

    def _checkpoint(self) -> None:
        """Rank 0 saves; every rank's share of the epoch's running loss goes with it, so that a
        job resumed mid-epoch prints the same train loss as one never stopped. Only where the
        job has a CheckpointConfig: nothing else would keep the file for a resumed job."""
        if not self.checkpoints.enabled:
            return
        shares = torch.zeros(self.world, 2, dtype=torch.float64)
        shares[self.rank] = torch.tensor(
            [self.progress.loss_sum, self.progress.loss_count], dtype=torch.float64
        )
        shares = self.collective.sum(shares)
        if self.rank != 0:
            return
        path = self.checkpoints.save(
            {
                "epoch": self.progress.epoch,
                "step": self.progress.step,
                "loss_shares": shares.tolist(),
                "model": Collective.unwrap(self.model).state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "rng": torch.get_rng_state(),
                "world": self.world,
            },
            epoch=self.progress.epoch,
            step=self.progress.step,
        )
        if path is not None:
            logger.info("checkpoint %s", path.name)

    def run(self) -> None:
        hp, progress = self.hp, self.progress
        while progress.epoch < hp["epochs"]:
            mine = shard.epoch_indices(
                len(self.y), progress.epoch, seed=hp["seed"], rank=self.rank, world=self.world
            )
            order = torch.from_numpy(mine).to(self.device)
            self.model.train()
            started, first_step = time.monotonic(), progress.step
            while progress.step < self.steps_per_epoch:
                if self.stop.should_stop():  # the same step on every worker
                    self._checkpoint()
                    logger.info("stopped at epoch %d, step %d", progress.epoch, progress.step)
                    return
                step = progress.epoch * self.steps_per_epoch + progress.step
                rate = self.lr.apply(self.optimizer, step)
                index = order[progress.step * self.batch : (progress.step + 1) * self.batch]
                loss = F.cross_entropy(self.model(self.x[index]), self.y[index])
                if not torch.isfinite(loss):
                    raise AlgorithmError(
                        f"the training loss became {loss.item()} at epoch {progress.epoch}, step "
                        f"{progress.step}: lower lr (now {rate:g}) or batch_size"
                    )
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                progress.loss_sum += loss.item() * len(index)
                progress.loss_count += len(index)
                progress.step += 1
            seen = (progress.step - first_step) * self.batch * self.world
            if self.rank == 0:
                logger.info(
                    "epoch %d: %.0f images/s over %d workers",
                    progress.epoch, seen / (time.monotonic() - started), self.world,
                )  # fmt: skip
            self._end_epoch()
            self.progress = progress = Progress(progress.epoch + 1)
            self._checkpoint()
        self._save_model()

    def _end_epoch(self) -> None:
        progress = self.progress
        totals = self.collective.sum(
            torch.tensor([progress.loss_sum, progress.loss_count], dtype=torch.float64)
        )
        values = {TRAIN_LOSS: float(totals[0] / totals[1])}
        if self.validation is not None:
            values.update(self._evaluate(*self.validation))
        metrics.report(progress.epoch, values)  # printed by global rank 0 only

    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor, y: torch.Tensor) -> dict[metrics.MetricSpec, float]:
        self.model.eval()
        loss = correct = 0.0
        for start in range(0, len(y), EVAL_BATCH):
            xb, yb = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
            logits = Collective.unwrap(self.model)(xb)
            loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            correct += float((logits.argmax(1) == yb).sum())
        totals = self.collective.sum(
            torch.tensor([loss, correct, float(len(y))], dtype=torch.float64)
        )
        return {
            VALIDATION_LOSS: float(totals[0] / totals[2]),
            VALIDATION_ACCURACY: float(totals[1] / totals[2]),
        }

    def _save_model(self) -> None:
        model = Collective.unwrap(self.model)
        logger.info("rank %d parameters sha256 %s", self.rank, parameters_digest(model))
        if self.rank != 0:
            return
        directory = self.env.paths.model
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), directory / "model.pt")
        (directory / "architecture.json").write_text(json.dumps(ARCHITECTURE, indent=2) + "\n")
        # A program that runs without this code (torch.export; TorchScript is deprecated):
        # batches of any size, loaded with torch.export.load(path).module().
        example = torch.zeros(2, 1, 28, 28, device=self.device)
        batch = torch.export.Dim("batch")
        program = torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))
        torch.export.save(program, directory / "model.pt2")
        logger.info("saved the model to %s", directory)

    def close(self) -> None:
        self.collective.close()


def report(error: TrainingError, rank: str) -> None:
    """Leave the error where this worker's host reads it; the host writes the failure file."""
    folder = os.environ.get(REPORTS_VARIABLE)
    if folder:
        text = json.dumps({"kind": error.kind, "message": error.message})
        Path(folder, f"rank-{rank}").write_text(text)


def die_with_parent() -> None:
    """Have the kernel end this worker when its launcher ends: a host killed at once (as a
    container is) must leave no worker behind to hold its peers in a collective."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the launcher was gone before the call took effect
        os._exit(1)


def main() -> int:
    die_with_parent()
    rank = os.environ.get("RANK", os.environ.get("HOROVOD_RANK", "?"))
    logging.basicConfig(
        level=os.environ.get("SMTUNE_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s %(levelname)s rank {rank}: %(message)s",
        stream=sys.stderr,
    )
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    stop = StopFlag()
    stop.install()
    try:
        trainer = Trainer(TrainingEnvironment.load(ContainerPaths.from_environment()), stop)
        trainer.run()
        trainer.close()
    except TrainingError as error:
        logger.error("%s", error.reason())
        report(error, rank)
        return 1
    except Exception as exc:
        logger.error("unexpected error:\n%s", traceback.format_exc())
        report(AlgorithmError(f"worker rank {rank} crashed: {exc}", caused_by=exc), rank)
        return 1
    return 0


if __name__ == "__main__":
    # Not sys.exit: Python's teardown puts SIGTERM back to its default action, so the
    # launcher's SIGTERM of a stop, arriving while a worker that already stopped (told by
    # a peer's flag) tears down, would kill it and fail the job.
    exit_process(main())
