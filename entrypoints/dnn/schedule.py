"""Which examples each rank sees in an epoch, and the learning rate of each step."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def epoch_order(examples: int, world: int, seed: int, epoch: int, rank: int) -> np.ndarray:
    """This rank's indices for an epoch: one shuffle for all, padded so every rank gets as
    many (a rank with fewer steps would leave the others waiting in a collective)."""
    order = np.random.default_rng([seed, epoch]).permutation(examples)
    per_rank = math.ceil(examples / world)
    order = np.resize(order, per_rank * world)  # pads by wrapping around
    return order[rank::world]


def learning_rate(hp: dict[str, Any], world: int, step: int, steps_per_epoch: int) -> float:
    """The base rate scaled by world size, reached by a linear warm-up from the base rate."""
    scale = {"none": 1.0, "linear": float(world), "sqrt": math.sqrt(world)}[hp["lr_scaling"]]
    peak = hp["lr"] * scale
    warmup_steps = round(hp["warmup_epochs"] * steps_per_epoch)
    if step >= warmup_steps:
        return peak
    return hp["lr"] + (peak - hp["lr"]) * (step + 1) / warmup_steps
