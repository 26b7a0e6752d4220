"""Tuning job completion criteria, evaluated over the finished jobs' final objectives.

botocore's TuningJobCompletionCriteria has three members, and DescribeHyperParameterTuningJob
reports TuningJobCompletionDetails (NumberOfTrainingJobsObjectiveNotImproving,
ConvergenceDetectedTime):
- TargetObjectiveMetricValue (float): met when a job's final objective reaches it, in the
  objective's direction (>= when maximizing, <= when minimizing).
- BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving (integer >= 3): botocore
  documents it as the number of jobs "that have failed to improve model performance by 1% or
  greater over prior training jobs". Our reading: a job improves when its objective beats the
  best before it by at least 1% of that best's magnitude; the first job with an objective
  improves; a job without an objective (failed, or no metric) does not. The count is the
  number of consecutive jobs since the last improving one, and the criterion is met when it
  reaches the maximum.
- ConvergenceDetected.CompleteOnConvergence (Disabled | Enabled): AMT's rule is internal
  ("a lack of significant improvement (1% or less)", "criteria developed over a wide range of
  diverse benchmarking tests"). Our documented stand-in: converged when the best objective has
  improved by no more than 1% over the last CONVERGENCE_WINDOW finished jobs, with at least
  CONVERGENCE_WINDOW + 1 jobs seen. It is the same 1% test as above on a fixed window; a
  rehearsal that reports convergence says it used this stand-in.

When several criteria are met by the same job, the report names the first in that order:
target, not improving, convergence.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from smtune.tuning.amt.strategy import score

IMPROVEMENT = 0.01  # botocore: "by 1% or greater"
MIN_NOT_IMPROVING = 3  # botocore: MaxNumberOfTrainingJobsNotImproving min 3
CONVERGENCE_WINDOW = 10  # our stand-in: AMT's convergence test is not public


class Criterion(enum.Enum):
    TARGET_OBJECTIVE_METRIC_VALUE = "TargetObjectiveMetricValue"
    BEST_OBJECTIVE_NOT_IMPROVING = "BestObjectiveNotImproving"
    CONVERGENCE_DETECTED = "ConvergenceDetected"


@dataclass(frozen=True)
class CompletionCriteria:
    """TuningJobCompletionCriteria; every field absent means the job runs to its limits."""

    target_objective_metric_value: float | None = None
    max_number_of_training_jobs_not_improving: int | None = None
    complete_on_convergence: bool = False

    def problems(self) -> list[str]:
        """Every reason the criteria are invalid (botocore's shapes), all at once."""
        found = []
        target = self.target_objective_metric_value
        if target is not None and (
            isinstance(target, bool)
            or not isinstance(target, int | float)
            or not math.isfinite(target)
        ):
            found.append(
                f"TuningJobCompletionCriteria.TargetObjectiveMetricValue={target!r}: must be a "
                "finite number"
            )
        limit = self.max_number_of_training_jobs_not_improving
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < MIN_NOT_IMPROVING
        ):
            found.append(
                "TuningJobCompletionCriteria.BestObjectiveNotImproving."
                f"MaxNumberOfTrainingJobsNotImproving={limit!r}: must be an integer >= "
                f"{MIN_NOT_IMPROVING}"
            )
        return found


@dataclass(frozen=True)
class FinalObjective:
    """A finished training job's final objective (None: it has none), in order of finishing."""

    job: str
    value: float | None
    time: float


@dataclass(frozen=True)
class CompletionDetails:
    """TuningJobCompletionDetails, plus which criterion was met (None: none yet) and by whom."""

    number_of_training_jobs_objective_not_improving: int
    convergence_detected_time: float | None = None
    met: Criterion | None = None
    met_by: str | None = None


def _improves(value: float, best: float) -> bool:
    """`value` beats `best` by at least 1% of |best|; both on the larger-is-better scale."""
    if math.isinf(best):
        return not math.isinf(value)
    return value - best >= IMPROVEMENT * abs(best) and value > best


def evaluate(
    criteria: CompletionCriteria, finished: Sequence[FinalObjective], maximize: bool
) -> CompletionDetails:
    """The completion details after `finished`, the first criterion met included."""
    target = criteria.target_objective_metric_value
    best = -math.inf
    not_improving = 0
    bests: list[float] = []  # the best after each job, on the larger-is-better scale
    converged_at: float | None = None
    for position, final in enumerate(finished):
        value = score(final.value, maximize)
        if _improves(value, best):
            not_improving = 0
        else:
            not_improving += 1
        best = max(best, value)
        bests.append(best)
        met = None
        if target is not None and value >= score(target, maximize):
            met = Criterion.TARGET_OBJECTIVE_METRIC_VALUE
        elif (
            criteria.max_number_of_training_jobs_not_improving is not None
            and not_improving >= criteria.max_number_of_training_jobs_not_improving
        ):
            met = Criterion.BEST_OBJECTIVE_NOT_IMPROVING
        if converged_at is None and position >= CONVERGENCE_WINDOW:
            earlier = bests[position - CONVERGENCE_WINDOW]
            if not math.isinf(earlier) and not _improves(best, earlier):
                converged_at = final.time
        if met is None and criteria.complete_on_convergence and converged_at is not None:
            met = Criterion.CONVERGENCE_DETECTED
        if met is not None:
            return CompletionDetails(not_improving, converged_at, met, final.job)
    return CompletionDetails(not_improving, converged_at)
