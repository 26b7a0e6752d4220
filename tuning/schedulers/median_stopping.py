"""AMT's early stopping for `TrainingJobEarlyStoppingType: Auto`: the median rule.

AWS documents it (Developer Guide, "Stop Training Jobs Early", section "How Early Stopping
Works"): after each epoch, take the objective; compute the running average of the objective
of every previous training job up to the same epoch, and the median of those running averages;
if the current job's objective is worse than that median, stop the current job.

Our reading of what the page leaves open:
- an "epoch" is one unit of resource, as for Hyperband: the N of a metric line `[N]`;
- "previous training jobs" are the jobs that have ended (on their own, or stopped) before
  this result arrives; a running job's partial curve is not a previous job;
- a previous job counts at epoch t only if it reported a value at some resource <= t; its
  running average is the mean of those values; with no such job the current one goes on;
- NaN is the worst value, as in the Hyperband scheduler; "worse" is strict, so a tie goes on.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from smtune.tuning.amt.strategy import score


@dataclass
class MedianStoppingRule:
    """Args:
    maximize: Whether a larger objective is better.
    """

    maximize: bool
    _curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    _ended: list[str] = field(default_factory=list)

    def observe(self, job: str, resource: int, value: float) -> bool:
        """Record `value` of `job` at `resource`; True when the rule stops the job."""
        if job in self._ended:
            raise ValueError(f"job {job!r} already ended: it reports no more results")
        self._curves.setdefault(job, []).append((resource, value))
        averages = [
            statistics.fmean(score(v, self.maximize) for r, v in self._curves[j] if r <= resource)
            for j in self._ended
            if any(r <= resource for r, _ in self._curves.get(j, ()))
        ]
        if not averages:
            return False
        return score(value, self.maximize) < statistics.median(averages)

    def add_previous(self, job: str, curve: Sequence[tuple[int, float]]) -> None:
        """A job that ended elsewhere (a warm start parent's) joins the previous jobs."""
        if job in self._curves:
            raise ValueError(f"job {job!r} is already known to the median rule")
        self._curves[job] = list(curve)
        self._ended.append(job)

    def end(self, job: str) -> None:
        """`job` ended: from now on its curve is one of the "previous training jobs"."""
        if job not in self._ended:
            self._ended.append(job)
