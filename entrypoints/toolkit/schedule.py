"""The learning rate of each step when the batch grows with the number of workers.

N workers that each keep their batch size train on an N times larger global batch; the
usual remedy scales the base rate by N (linear, Goyal et al. 2017, "Accurate, Large
Minibatch SGD") or by sqrt(N) (Krizhevsky 2014), reached by a linear warm-up from the base
rate, so that the first steps of a large batch do not diverge. torch-free: `apply` sets the
rate on anything with torch's `param_groups`.

    lr = LRSchedule(0.01, workers=8, scaling=LRScaling.LINEAR, warmup_steps=500)
    for step in range(steps):
        lr.apply(optimizer, step)  # 0.01 + 0.07 * (step + 1) / 500, then 0.08
        ...
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Protocol


class LRScaling(enum.Enum):
    """How the peak rate grows with the number of workers."""

    NONE = "none"
    LINEAR = "linear"
    SQRT = "sqrt"

    def factor(self, workers: int) -> float:
        if self is LRScaling.LINEAR:
            return float(workers)
        if self is LRScaling.SQRT:
            return math.sqrt(workers)
        return 1.0


class HasParamGroups(Protocol):
    """What `apply` needs of an optimizer: torch's `param_groups`."""

    param_groups: list[dict[str, Any]]


def warmup_steps(epochs: float, steps_per_epoch: int) -> int:
    """A warm-up given in (fractions of) epochs, in steps."""
    return round(epochs * steps_per_epoch)


@dataclass(frozen=True)
class LRSchedule:
    """The base rate scaled with the workers, reached by a linear warm-up from the base rate.

    Args:
        base_lr: The rate of one worker, and of the first step.
        workers: How many workers train together (the world size).
        scaling: How the peak rate grows with `workers`.
        warmup_steps: Steps to reach the peak; 0 starts there.
    """

    base_lr: float
    workers: int = 1
    scaling: LRScaling = LRScaling.NONE
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        if not self.base_lr > 0:
            raise ValueError(f"base_lr={self.base_lr} is out of range: must be base_lr > 0")
        if self.workers < 1:
            raise ValueError(f"workers={self.workers} is out of range: must be workers >= 1")
        if self.warmup_steps < 0:
            raise ValueError(
                f"warmup_steps={self.warmup_steps} is out of range: must be warmup_steps >= 0"
            )

    @property
    def peak(self) -> float:
        return self.base_lr * self.scaling.factor(self.workers)

    def at(self, step: int) -> float:
        """The rate of `step` (from 0, counted over the whole training)."""
        peak = self.peak
        if step >= self.warmup_steps:
            return peak
        return self.base_lr + (peak - self.base_lr) * (step + 1) / self.warmup_steps

    def apply(self, optimizer: HasParamGroups, step: int) -> float:
        """Set the rate of `step` on every parameter group of `optimizer`; returns it."""
        rate = self.at(step)
        for group in optimizer.param_groups:
            group["lr"] = rate
        return rate
