"""Each rank's share of an epoch: as many examples as every other rank, all of them together."""

from __future__ import annotations

import numpy as np
import pytest

from smtune.entrypoints.toolkit import shard


def test_every_rank_gets_as_many_examples_and_together_all_of_them() -> None:
    shards = [shard.epoch_indices(10, 0, seed=1, rank=r, world=4) for r in range(4)]
    assert {len(s) for s in shards} == {3} and shard.per_rank(10, world=4) == 3
    assert set().union(*map(set, shards)) == set(range(10))
    assert (shard.epoch_indices(10, 1, seed=1, rank=0, world=4) != shards[0]).any()  # new order


def test_the_order_is_fixed_by_seed_and_epoch() -> None:
    first = shard.epoch_indices(100, 3, seed=7, rank=1, world=2)
    assert np.array_equal(first, shard.epoch_indices(100, 3, seed=7, rank=1, world=2))
    assert not np.array_equal(first, shard.epoch_indices(100, 3, seed=8, rank=1, world=2))


def test_every_rank_runs_as_many_steps() -> None:
    assert shard.steps_per_epoch(6000, batch_size=32, world=2) == 94  # 3000 / 32, rounded up
    assert shard.steps_per_epoch(10, batch_size=3, world=4) == 1


def test_rank_and_world_default_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert np.array_equal(
        shard.epoch_indices(10, 0, seed=2), shard.epoch_indices(10, 0, seed=2, rank=1, world=3)
    )
    assert shard.steps_per_epoch(10, batch_size=2) == 2


def test_a_rank_outside_the_world_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"rank=2 is out of range: must be 0 <= rank < world \(2\)"
    ):
        shard.epoch_indices(10, 0, rank=2, world=2)
