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

Example (torchrun sets RANK and WORLD_SIZE; SageMaker's SM_* variables name the folders)::

    from entrypoints.toolkit import checkpoints, metrics, schedule, shard, stop

    ACCURACY = metrics.MetricSpec("validation:accuracy", "validation-accuracy",
                                  metrics.Direction.MAXIMIZE)
    stopping = stop.StopSignal.install()
    saved = checkpoints.Checkpoints.from_environment()
    resumed = saved.resume()
    start = resumed.state["epoch"] if resumed else 0
    lr = schedule.LRSchedule(args.lr, workers=world, scaling=schedule.LRScaling.LINEAR,
                             warmup_steps=steps_per_epoch)
    for epoch in range(start, args.epochs):
        mine = shard.epoch_indices(len(train), epoch, seed=args.seed)
        for step in range(steps_per_epoch):
            if stopping.should_stop():
                saved.save({"epoch": epoch, "model": model.state_dict()}, epoch=epoch)
                return
            lr.apply(optimizer, epoch * steps_per_epoch + step)
            ...
        metrics.report(epoch, {ACCURACY: accuracy})
        saved.save({"epoch": epoch + 1, "model": model.state_dict()}, epoch=epoch + 1)
"""

from entrypoints.toolkit import checkpoints, distributed, metrics, schedule, shard, stop

__all__ = ["checkpoints", "distributed", "metrics", "schedule", "shard", "stop"]
