"""Sampling honours every range type and ScalingType, and the seed."""

from __future__ import annotations

import math
import random
import re
import statistics

import pytest

from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange, Scaling, sample

N = 4000


def draws(r: FloatRange | IntRange | Choice, seed: int = 0) -> list:
    rng = random.Random(seed)
    return [r.sample(rng) for _ in range(N)]


def test_linear_is_uniform_within_bounds() -> None:
    values = draws(FloatRange(2.0, 4.0, Scaling.LINEAR))
    assert min(values) >= 2.0 and max(values) <= 4.0
    assert statistics.median(values) == pytest.approx(3.0, abs=0.1)


def test_logarithmic_is_uniform_in_log() -> None:
    values = draws(FloatRange(1e-4, 1.0, Scaling.LOGARITHMIC))
    assert min(values) >= 1e-4 and max(values) <= 1.0
    assert math.log10(statistics.median(values)) == pytest.approx(-2.0, abs=0.15)


def test_reverse_logarithmic_is_dense_near_one() -> None:
    values = draws(FloatRange(0.0, 0.999, Scaling.REVERSE_LOGARITHMIC))
    assert min(values) >= 0.0 and max(values) <= 0.999
    # Uniform in log(1 - x) over [log 0.001, log 1]: the median of 1 - x is about 10^-1.5.
    assert math.log10(1 - statistics.median(values)) == pytest.approx(-1.5, abs=0.15)


def test_integers_reach_both_ends_evenly() -> None:
    counts = {v: 0 for v in range(3, 11)}
    for value in draws(IntRange(3, 10)):
        counts[value] += 1
    assert all(abs(c - N / 8) < N / 8 * 0.25 for c in counts.values()), counts


def test_integer_log_scaling_and_categories() -> None:
    values = draws(IntRange(1, 1000, Scaling.LOGARITHMIC))
    assert all(isinstance(v, int) and 1 <= v <= 1000 for v in values)
    assert statistics.median(values) == pytest.approx(32, rel=0.3)
    assert set(draws(Choice(("a", "b", "c")))) == {"a", "b", "c"}


def test_the_same_seed_gives_the_same_configurations() -> None:
    space = {"b": IntRange(1, 9), "a": FloatRange(0.1, 1.0, Scaling.LOGARITHMIC)}
    shuffled = dict(reversed(space.items()))  # the order names are written in is no matter

    def five(space: dict, seed: int) -> list[dict]:
        rng = random.Random(seed)
        return [sample(space, rng) for _ in range(5)]

    assert five(space, 42) == five(shuffled, 42)
    assert five(space, 42) != five(space, 43)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FloatRange(1.0, 0.5), "min=1 > max=0.5: must be min <= max"),
        (
            lambda: FloatRange(0.0, 1.0, Scaling.LOGARITHMIC),
            "scaling Logarithmic needs min > 0, got 0",
        ),
        (
            lambda: FloatRange(0.5, 1.0, Scaling.REVERSE_LOGARITHMIC),
            "scaling ReverseLogarithmic needs 0 <= min <= max < 1, got [0.5, 1]",
        ),
        (
            lambda: IntRange(5, 3, Scaling.LOGARITHMIC),
            "min=5 > max=3: must be min <= max",
        ),
        (lambda: Choice(()), "a categorical range needs at least one value"),
    ],
)
def test_bad_ranges_are_named(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make()  # type: ignore[operator]
