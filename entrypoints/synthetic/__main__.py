"""`python -m smtune.entrypoints.synthetic [train | --check]`: the synthetic trainer's command."""

from __future__ import annotations

import json
import sys
import time

from smtune.entrypoints.contract.config import TrainingEnvironment
from smtune.entrypoints.contract.errors import ERROR_KINDS
from smtune.entrypoints.contract.lifecycle import StopFlag, exit_process, image_command
from smtune.entrypoints.contract.metrics import MetricLine
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.synthetic.hyperparameters import SCHEMA
from smtune.entrypoints.synthetic.metrics import METRIC_SPECS, SCORE


def score(x: float, y: float, epoch: int) -> float:
    """A learning curve rising to a plateau set by (x, y); epochs count from 1."""
    plateau = 1.0 - (x - 0.3) ** 2 - 0.01 * (y - 3.0) ** 2
    return plateau * (1.0 - 1.0 / (1.0 + 0.5 * epoch))


def attempt(paths: ContainerPaths, host: str) -> int:
    """This host's attempt at the job, counted in a file beside its tree: in the job's folder
    with the process backend, which a retry keeps (it lays out the host's tree anew). In a
    container that folder does not outlive the attempt, so every attempt there is the first."""
    counter = paths.root.parent / f".{host}-attempts"
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    return count


def main(paths: ContainerPaths, stop: StopFlag) -> None:
    env = TrainingEnvironment.load(paths)
    hp = SCHEMA.parse(env.hyperparameters)
    checkpoint = env.checkpoint_dir / "synthetic-checkpoint.json"
    resumable = env.checkpointing and checkpoint.exists()  # only with a CheckpointConfig
    start = json.loads(checkpoint.read_text())["epochs"] if resumable else 0
    printer = MetricLine(METRIC_SPECS)
    for epoch in range(start + 1, hp["epochs"] + 1):
        if stop.is_set():
            break
        time.sleep(hp["seconds_per_epoch"])
        if epoch == hp["fail_at_epoch"] and (
            not hp["fail_attempts"]
            or attempt(paths, env.resource.current_host) <= hp["fail_attempts"]
        ):
            raise ERROR_KINDS[hp["fail_with"]](f"failing at epoch {epoch}, as fail_at_epoch asked")
        if env.resource.is_leader or hp["metrics_from_every_host"]:
            value = score(hp["x"], hp["y"], epoch)
            if hp["metric_lines"]:
                printer.emit(epoch - 1, {SCORE.name: value})
            else:
                print(f"epoch {epoch}: score={value}", flush=True)
            if env.checkpointing:
                env.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                checkpoint.write_text(json.dumps({"epochs": epoch}))
    if env.resource.is_leader:
        env.paths.model.mkdir(parents=True, exist_ok=True)
        (env.paths.model / "model.json").write_text(json.dumps({k: hp[k] for k in ("x", "y")}))


if __name__ == "__main__":
    exit_process(image_command(sys.argv[1:], main, check=lambda: "synthetic: ready to train"))
