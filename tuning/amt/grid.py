"""Grid search's rules (AMT): categorical ranges only, one job per combination, in our order.

AWS (Developer Guide, "How hyperparameter tuning with Amazon SageMaker works", Grid search):
only categorical parameters are supported; MaxNumberOfTrainingJobs need not be given, the
number of training jobs being the number of distinct combinations, and if given it should
equal that number. The order in which AMT launches the combinations is not documented: ours
is the hyperparameter names sorted, values in the order the spec lists them, the last name
varying fastest (as `itertools.product`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping

from smtune.tuning.amt.ranges import Choice, Range


def grid_problems(space: Mapping[str, Range], max_jobs: int | None) -> list[str]:
    """Every reason `space` and MaxNumberOfTrainingJobs cannot make a Grid search."""
    problems = [
        f"ParameterRanges.{name}={type(rng).__name__}: Grid search takes categorical ranges "
        "only (AWS: 'Only categorical parameters are supported when using the grid search "
        "strategy')"
        for name, rng in sorted(space.items())
        if not isinstance(rng, Choice)
    ]
    if not space:
        problems.append("ParameterRanges is empty: Grid search needs a categorical range")
    if not problems and max_jobs is not None and max_jobs != grid_size(space):
        problems.append(
            f"ResourceLimits.MaxNumberOfTrainingJobs={max_jobs}: with Grid search it must be "
            f"absent or equal the number of combinations, {grid_size(space)}"
        )
    return problems


def grid_size(space: Mapping[str, Range]) -> int:
    """The number of combinations: the product of the numbers of values."""
    return math.prod(len(_choice(name, rng).values) for name, rng in space.items())


def combinations(space: Mapping[str, Range]) -> Iterator[dict[str, float | int | str]]:
    """Every combination, in the documented order (names sorted, last name fastest)."""
    names = sorted(space)
    value_lists = [_choice(name, space[name]).values for name in names]
    for values in itertools.product(*value_lists):
        yield dict(zip(names, values, strict=True))


def _choice(name: str, rng: Range) -> Choice:
    if not isinstance(rng, Choice):
        raise ValueError(
            f"ParameterRanges.{name}={type(rng).__name__}: Grid search takes categorical "
            "ranges only"
        )
    return rng
