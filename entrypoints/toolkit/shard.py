"""Each rank's share of an epoch: one seeded shuffle for all ranks, dealt out in turn.

Every rank gets as many examples (the order is padded by wrapping around), so every rank
runs as many steps: a rank with one step fewer would leave the others waiting in a
collective until it timed out.

    for epoch in range(epochs):
        mine = shard.epoch_indices(len(dataset), epoch, seed=seed)
        for step in range(shard.steps_per_epoch(len(dataset), batch_size)):
            batch = mine[step * batch_size : (step + 1) * batch_size]
"""

from __future__ import annotations

import math

import numpy as np

from smtune.entrypoints.toolkit import distributed


def epoch_indices(
    examples: int, epoch: int, *, seed: int = 0, rank: int | None = None, world: int | None = None
) -> np.ndarray:
    """This rank's indices of `epoch`'s shuffle of range(examples); a new shuffle each epoch.

    Args:
        examples: How many examples the dataset holds (every rank holds all of them).
        epoch: The epoch, from 0: with `seed`, it fixes the shuffle, so a resumed job sees
            the order the interrupted one did.
        seed: The same on every rank.
        rank: This rank; by default `distributed.rank()`.
        world: How many ranks; by default `distributed.world_size()`.
    """
    rank = distributed.rank() if rank is None else rank
    world = distributed.world_size() if world is None else world
    if not 0 <= rank < world:
        raise ValueError(f"rank={rank} is out of range: must be 0 <= rank < world ({world})")
    order = np.random.default_rng([seed, epoch]).permutation(examples)
    order = np.resize(order, per_rank(examples, world) * world)  # pads by wrapping around
    return order[rank::world]


def per_rank(examples: int, world: int | None = None) -> int:
    """How many examples each rank gets per epoch (padded)."""
    world = distributed.world_size() if world is None else world
    return math.ceil(examples / world)


def steps_per_epoch(examples: int, batch_size: int, world: int | None = None) -> int:
    """How many steps every rank runs per epoch, the last batch possibly short."""
    return math.ceil(per_rank(examples, world) / batch_size)
