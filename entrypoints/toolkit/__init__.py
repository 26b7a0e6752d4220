"""smtune's helpers for a training script on smtune's images (optional: nothing needs them).

One module per job; each works in a single process, under torchrun (torch.distributed) and
under Horovod, and none imports torch until a function needs it:

- `metrics`: metric lines from MetricSpecs, printed once per iteration by global rank 0,
  and the MetricDefinitions (name + regex) a tuning job reads them with.
- `schedule`: the learning rate scaled with the number of workers (linear, sqrt, none),
  reached by a linear warm-up.
- `shard`: each rank's indices of an epoch's seeded shuffle, padded so that every rank
  runs as many steps.
- `checkpoints`: save to and resume from the job's CheckpointConfig folder; rank 0 writes
  whole files, a resume skips a damaged newest one.
- `stop`: SIGTERM (StopTrainingJob, spot, a Hyperband stop) agreed across ranks at a step.
- `distributed`: this process's rank and world size, as the modules above see them.
- `collective`: join XGBoost's collective from the variables smtune's XGBoost image sets.

Example (hyperparameters arrive as `--name value`; torchrun sets RANK and WORLD_SIZE)::

    from smtune.entrypoints.toolkit import checkpoints, distributed, metrics, schedule, shard, stop

    ACCURACY = metrics.MetricSpec(
        "validation:accuracy", "validation-accuracy", metrics.Direction.MAXIMIZE
    )  # metrics.definitions([ACCURACY]) gives the tuning job its MetricDefinitions
    stopping = stop.StopSignal.install()  # SIGTERM: should_stop() on every rank
    saved = checkpoints.Checkpoints.from_environment()  # the CheckpointConfig folder
    resumed = saved.resume()  # rank 0's newest whole checkpoint, on every rank
    if resumed is not None:
        model.load_state_dict(resumed.state["model"])
    start = resumed.position[0] if resumed else 0
    steps = shard.steps_per_epoch(len(train), args.batch_size)
    lr = schedule.LRSchedule(args.lr, workers=distributed.world_size(),
                             scaling=schedule.LRScaling.SQRT, warmup_steps=steps)
    for epoch in range(start, args.epochs):
        mine = shard.epoch_indices(len(train), epoch, seed=args.seed)
        for step in range(steps):
            if stopping.should_stop():  # a collective: every rank, every step
                saved.save({"model": model.state_dict()}, epoch=epoch)
                return
            lr.apply(optimizer, epoch * steps + step)
            ...  # train on mine[step * args.batch_size : (step + 1) * args.batch_size]
        metrics.report(epoch, {ACCURACY: evaluate(model)})  # printed by rank 0 only
        saved.save({"model": model.state_dict()}, epoch=epoch + 1)  # rank 0 writes

examples/script-mode/train.py is the whole of such a script; examples/script-mode/xgboost_train.py
is one for the XGBoost image.
"""

from smtune.entrypoints.toolkit import (
    checkpoints,
    collective,
    distributed,
    metrics,
    schedule,
    shard,
    stop,
)

__all__ = ["checkpoints", "collective", "distributed", "metrics", "schedule", "shard", "stop"]
