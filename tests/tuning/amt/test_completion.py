"""Completion criteria over the finished jobs' final objectives, worked by hand."""

from __future__ import annotations

import math

import pytest

from smtune.tuning.amt.completion import (
    CONVERGENCE_WINDOW,
    CompletionCriteria,
    CompletionDetails,
    Criterion,
    FinalObjective,
)
from smtune.tuning.amt.completion import evaluate as evaluate_criteria


def finals(*values: float | None) -> list[FinalObjective]:
    return [FinalObjective(f"j{i}", v, float(100 + i)) for i, v in enumerate(values)]


def test_no_criteria_are_never_met() -> None:
    details = evaluate_criteria(CompletionCriteria(), finals(0.1, 0.2, 0.2, 0.2), True)
    assert details == CompletionDetails(number_of_training_jobs_objective_not_improving=2)


@pytest.mark.parametrize(
    ("maximize", "values", "met_by"),
    [
        (True, (0.5, 0.79, 0.8, 0.9), "j2"),  # reached: >= when maximizing
        (False, (0.9, 0.81, 0.8), "j2"),  # <= when minimizing
        (True, (0.5, 0.79), None),
        (False, (0.5, math.nan, None), "j0"),  # 0.5 <= 0.8 already
    ],
)
def test_target_is_met_in_the_objectives_direction(
    maximize: bool, values: tuple[float | None, ...], met_by: str | None
) -> None:
    details = evaluate_criteria(CompletionCriteria(0.8), finals(*values), maximize)
    assert details.met_by == met_by
    assert details.met is (Criterion.TARGET_OBJECTIVE_METRIC_VALUE if met_by else None)


def test_best_not_improving_counts_jobs_since_the_last_improvement_of_one_percent() -> None:
    criteria = CompletionCriteria(max_number_of_training_jobs_not_improving=3)
    # j1 improves (0.70 -> 0.80); j2 +0.5% and j3 (failed) and j4 (NaN) do not: the third is j4
    values = (0.70, 0.80, 0.804, None, math.nan, 0.99)
    details = evaluate_criteria(criteria, finals(*values), maximize=True)
    assert details == CompletionDetails(3, None, Criterion.BEST_OBJECTIVE_NOT_IMPROVING, "j4")
    # j3 improves by 1% exactly: the count starts again
    details = evaluate_criteria(criteria, finals(0.5, 0.5, 0.5, 0.505, 0.5), maximize=True)
    assert details == CompletionDetails(1)


def test_minimizing_improvement_is_measured_on_the_magnitude() -> None:
    criteria = CompletionCriteria(max_number_of_training_jobs_not_improving=3)
    values = (-2.0, -2.03, -2.01, -2.02, -2.019)  # 1% of 2.0 is 0.02: -2.03 improves, no other
    details = evaluate_criteria(criteria, finals(*values), maximize=False)
    assert (details.met, details.met_by) == (Criterion.BEST_OBJECTIVE_NOT_IMPROVING, "j4")


def test_convergence_stand_in_reports_its_time_and_completes_only_when_enabled() -> None:
    flat = [0.5 + 0.0001 * i for i in range(CONVERGENCE_WINDOW + 3)]
    details = evaluate_criteria(CompletionCriteria(), finals(*flat), maximize=True)
    assert details.convergence_detected_time == 100.0 + CONVERGENCE_WINDOW
    assert details.met is None
    enabled = CompletionCriteria(complete_on_convergence=True)
    details = evaluate_criteria(enabled, finals(*flat), maximize=True)
    assert details.met is Criterion.CONVERGENCE_DETECTED
    assert details.met_by == f"j{CONVERGENCE_WINDOW}"
    climbing = [0.5 * 1.02**i for i in range(CONVERGENCE_WINDOW + 3)]
    assert evaluate_criteria(enabled, finals(*climbing), True).convergence_detected_time is None


def test_the_target_wins_when_several_criteria_meet_on_one_job() -> None:
    criteria = CompletionCriteria(0.5, 3, True)
    details = evaluate_criteria(criteria, finals(*([0.5] * 20)), maximize=True)
    assert (details.met, details.met_by) == (Criterion.TARGET_OBJECTIVE_METRIC_VALUE, "j0")


def test_invalid_criteria_are_all_reported() -> None:
    criteria = CompletionCriteria("0.8", 2)  # type: ignore[arg-type]
    assert criteria.problems() == [
        "TuningJobCompletionCriteria.TargetObjectiveMetricValue='0.8': must be a finite number",
        "TuningJobCompletionCriteria.BestObjectiveNotImproving."
        "MaxNumberOfTrainingJobsNotImproving=2: must be an integer >= 3",
    ]
    assert CompletionCriteria(math.inf, True).problems() == [  # type: ignore[arg-type]
        "TuningJobCompletionCriteria.TargetObjectiveMetricValue=inf: must be a finite number",
        "TuningJobCompletionCriteria.BestObjectiveNotImproving."
        "MaxNumberOfTrainingJobsNotImproving=True: must be an integer >= 3",
    ]
    assert CompletionCriteria(0.8, 3, True).problems() == []
