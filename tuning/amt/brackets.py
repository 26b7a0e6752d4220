"""Rungs and brackets of Hyperband for a resource range [MinResource, MaxResource].

A rung is a resource level (epochs, boosting rounds: metric lines, for AMT) at which jobs are
compared and only the best 1/η go on. Rungs sit at r_k = MinResource·η^k for every k with
r_k < MaxResource, and MaxResource itself is the last: no job runs beyond it.

Hyperband hedges between aggressive and cautious early stopping with brackets. Bracket s
(s = 0 .. s_max, with s_max = the number of rungs below MaxResource) first compares its jobs
at rung s: bracket 0 stops jobs as early as MinResource, the last bracket lets every job run
to MaxResource. In Hyperband's synchronous form bracket s starts n_s = ceil((s_max+1)/(s'+1)·η^s')
jobs, with s' = s_max - s the number of rungs it still has to pass, so that every bracket
spends about the same resource; that count is what `Bracket.jobs` gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_ETA = 3


def _check(min_resource: int, max_resource: int, eta: int) -> None:
    if min_resource < 1:
        raise ValueError(f"MinResource={min_resource} is out of range: must be MinResource >= 1")
    if max_resource < min_resource:
        raise ValueError(
            f"MaxResource={max_resource} is out of range: must be MaxResource >= "
            f"MinResource={min_resource}"
        )
    if eta < 2:
        raise ValueError(f"eta={eta} is out of range: must be eta >= 2")


def rungs(min_resource: int, max_resource: int, eta: int = DEFAULT_ETA) -> tuple[int, ...]:
    """Resource levels at which jobs are compared, ending at MaxResource.

    >>> rungs(1, 81)
    (1, 3, 9, 27, 81)
    >>> rungs(10, 200)
    (10, 30, 90, 200)
    """
    _check(min_resource, max_resource, eta)
    levels = []
    level = min_resource
    while level < max_resource:
        levels.append(level)
        level *= eta
    levels.append(max_resource)
    return tuple(levels)


@dataclass(frozen=True)
class Bracket:
    """Bracket `index`: its jobs are first compared at `rungs[0]`, last at MaxResource."""

    index: int
    rungs: tuple[int, ...]
    jobs: int

    @property
    def min_resource(self) -> int:
        return self.rungs[0]


def brackets(min_resource: int, max_resource: int, eta: int = DEFAULT_ETA) -> tuple[Bracket, ...]:
    """Every bracket, the most aggressive (index 0) first.

    >>> [(b.index, b.rungs, b.jobs) for b in brackets(1, 9)]
    [(0, (1, 3, 9), 9), (1, (3, 9), 5), (2, (9,), 3)]
    """
    levels = rungs(min_resource, max_resource, eta)
    s_max = len(levels) - 1
    result = []
    for s in range(s_max + 1):
        remaining = s_max - s  # rungs this bracket still has to pass
        jobs = math.ceil((s_max + 1) / (remaining + 1) * eta**remaining)
        result.append(Bracket(index=s, rungs=levels[s:], jobs=jobs))
    return tuple(result)
