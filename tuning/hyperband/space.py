"""Search spaces and seeded random sampling, with AMT's scaling types.

AMT's ScalingType: Linear samples uniformly; Logarithmic uniformly in log(x) (min > 0);
ReverseLogarithmic uniformly in log(1 - x), dense near 1 (max < 1); Auto is AMT's own
choice, which it does not publish: here Auto is Linear.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass


class Scaling(enum.Enum):
    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    scaling: Scaling = Scaling.AUTO

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, self.scaling)

    def sample(self, rng: random.Random) -> float:
        return _scaled(rng.random(), self.low, self.high, self.scaling)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    scaling: Scaling = Scaling.AUTO

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, self.scaling)

    def sample(self, rng: random.Random) -> int:
        if self.scaling in (Scaling.AUTO, Scaling.LINEAR):
            # Widen by half a step before rounding: the ends are as likely as any integer.
            value = _scaled(rng.random(), self.low - 0.499, self.high + 0.499, Scaling.LINEAR)
        else:
            value = _scaled(rng.random(), self.low, self.high, self.scaling)
        return min(self.high, max(self.low, round(value)))


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a categorical range needs at least one value")

    def sample(self, rng: random.Random) -> str:
        return self.values[rng.randrange(len(self.values))]


Range = FloatRange | IntRange | Choice


def _check_bounds(low: float, high: float, scaling: Scaling) -> None:
    if low > high:
        raise ValueError(f"min={low} > max={high}: must be min <= max")
    if scaling is Scaling.LOGARITHMIC and low <= 0:
        raise ValueError(f"min={low} with Logarithmic scaling: must be min > 0")
    if scaling is Scaling.REVERSE_LOGARITHMIC and (high >= 1 or low < 0):
        raise ValueError(f"[{low}, {high}] with ReverseLogarithmic: must be 0 <= min <= max < 1")


def _scaled(u: float, low: float, high: float, scaling: Scaling) -> float:
    if scaling is Scaling.LOGARITHMIC:
        return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    if scaling is Scaling.REVERSE_LOGARITHMIC:
        return 1 - math.exp(math.log(1 - high) + u * (math.log(1 - low) - math.log(1 - high)))
    return low + u * (high - low)


def sample(space: Mapping[str, Range], rng: random.Random) -> dict[str, float | int | str]:
    """One configuration; names in sorted order, so the draw does not depend on dict order."""
    return {name: space[name].sample(rng) for name in sorted(space)}
