"""Completion criteria and retries: planned, checked (exact messages), sent (Stubber)."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from smtune.tuning.amt.completion import CompletionCriteria
from smtune.tuning.amt.retry import RetryStrategy
from smtune.tuning.plan import TuningPlan
from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, parse
from tests.tuning.test_request import seed_data

COMPLETION = {"target_objective": 0.8, "max_jobs_not_improving": 5, "convergence": True}
RETRY = {"max_attempts": 2}


def with_blocks(completion: Any = COMPLETION, retry: Any = RETRY) -> dict[str, Any]:
    """The seed spec with a completion block and a retry block (None: left out)."""
    data = copy.deepcopy(seed_data())
    if completion is not None:
        data["completion"] = completion
    if retry is not None:
        data["retry"] = retry
    return data


def planned() -> TuningPlan:
    return plan(parse(with_blocks()))


def test_both_blocks_are_planned_as_typed_values() -> None:
    checked = planned()
    assert checked.completion == CompletionCriteria(0.8, 5, True)
    assert checked.definition.retry == RetryStrategy(2)
    assert checked.warnings == ()


def test_create_with_both_blocks_sends_exactly_these_parameters() -> None:
    request = build_request(planned())
    expected = build_request(plan(parse(with_blocks(None, None))))
    expected["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "TargetObjectiveMetricValue": 0.8,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    expected["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    assert request == expected
    client = boto3.client("sagemaker", region_name="eu-west-1")
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/x"
    with Stubber(client) as stub:
        stub.add_response(
            "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": arn}, expected
        )
        assert client.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
        stub.assert_no_pending_responses()


def test_a_criterion_not_asked_for_is_left_out() -> None:
    request = build_request(plan(parse(with_blocks({"max_jobs_not_improving": 3}, None))))
    assert request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] == {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
    }
    assert "RetryStrategy" not in request["TrainingJobDefinition"]
    # An integer target is a number too; one AUC cannot reach is not an error (AMT takes it).
    target = plan(parse(with_blocks({"target_objective": 2}, None))).completion
    assert target is not None and target.target_objective_metric_value == 2


BAD = [
    (
        {"target_objective": "high"},
        RETRY,
        ["completion.target_objective: Input should be a valid number (got 'high')"],
    ),
    (
        {"target_objective": True},
        RETRY,
        ["completion.target_objective: Input should be a valid number (got True)"],
    ),
    (
        {"target_objective": float("nan")},
        RETRY,
        [
            "completion.target_objective: TuningJobCompletionCriteria.TargetObjectiveMetricValue"
            "=nan: must be a finite number"
        ],
    ),
    (
        {"max_jobs_not_improving": 2},
        {"max_attempts": 31},
        [
            "completion.max_jobs_not_improving: TuningJobCompletionCriteria."
            "BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving=2: must be an integer "
            ">= 3",
            "retry.max_attempts: RetryStrategy.MaximumRetryAttempts=31: must be 1 <= "
            "MaximumRetryAttempts <= 30",
        ],
    ),
    (
        {"max_jobs_not_improving": 2.5, "convergence": "yes"},
        RETRY,
        [
            "completion.max_jobs_not_improving: Input should be a valid integer (got 2.5)",
            "completion.convergence: Input should be a valid boolean (got 'yes')",
        ],
    ),
    (
        {"convergence": False},
        {"max_attempts": 0},
        [
            "completion: sets no criterion: give target_objective, max_jobs_not_improving or "
            "convergence: true, or leave the block out",
            "retry.max_attempts: RetryStrategy.MaximumRetryAttempts=0: must be 1 <= "
            "MaximumRetryAttempts <= 30",
        ],
    ),
    (COMPLETION, {}, ["retry.max_attempts: Field required"]),
    (
        {"target": 0.8},
        {"attempts": 2},
        [
            "completion.target: Extra inputs are not permitted (got 0.8)",
            "retry.max_attempts: Field required",
            "retry.attempts: Extra inputs are not permitted (got 2)",
        ],
    ),
]


@pytest.mark.parametrize(
    ("completion", "retry", "messages"), BAD, ids=[str(i) for i in range(len(BAD))]
)
def test_bad_blocks_are_listed_exactly_and_all_at_once(
    completion: Any, retry: Any, messages: list[str]
) -> None:
    with pytest.raises(SpecError) as error:
        plan(parse(with_blocks(completion, retry)))
    # Exactly these: botocore does not list a field again that our check has listed.
    assert error.value.problems == messages


def test_a_limit_no_run_can_reach_is_a_warning() -> None:
    checked = plan(parse(with_blocks({"max_jobs_not_improving": 30}, None)))
    assert checked.warnings == (
        "completion.max_jobs_not_improving=30 can never be met: the first job always improves, "
        "so at most limits.max_jobs - 1 = 29 jobs in a row can fail to improve",
    )


def test_plan_summarizes_both_blocks() -> None:
    from smtune.tuning.report import plan_summary as summary

    lines = summary(planned()).splitlines()
    assert lines[-2:] == [
        "completion  at the first of: objective reaches 0.8, 5 jobs in a row not improving, "
        "AMT detects convergence",
        "retries     up to 2 per job failed for an internal error (the same job, counted once)",
    ]
