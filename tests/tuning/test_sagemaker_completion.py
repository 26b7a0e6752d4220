"""`analyze` shows a SageMaker tuning job's TuningJobCompletionDetails (Stubber, exact
parameters), and which criterion a Completed job met, inferred and said to be."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import pytest

from smtune.tuning import commands, sagemaker
from tests.tuning.test_sagemaker import NAME, T0, description

JOB = "job-007"
CRITERIA = {
    "TargetObjectiveMetricValue": 0.8,
    "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
    "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
}


def described(status: str, best: float, not_improving: int, converged: bool) -> dict[str, Any]:
    found = description(
        status,
        TuningJobCompletionDetails={
            "NumberOfTrainingJobsObjectiveNotImproving": not_improving,
            **({"ConvergenceDetectedTime": T0 + dt.timedelta(hours=1)} if converged else {}),
        },
        BestTrainingJob=dict(
            TrainingJobName=JOB,
            TrainingJobArn=f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{JOB}",
            CreationTime=T0,
            TrainingJobStatus="Completed",
            TunedHyperParameters={},
            FinalHyperParameterTuningJobObjectiveMetric=dict(
                MetricName="validation:auc", Value=best
            ),
        ),
    )
    found["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = CRITERIA
    return found


@pytest.mark.parametrize(
    ("status", "best", "not_improving", "converged", "line"),
    [
        (
            "Completed",
            0.81,
            0,
            False,
            "completion: 0 training jobs in a row not improving the best; "
            "TargetObjectiveMetricValue met (inferred)",
        ),
        (
            "Completed",
            0.78,
            5,
            False,
            "completion: 5 training jobs in a row not improving the best; "
            "BestObjectiveNotImproving met (inferred)",
        ),
        (
            "Completed",
            0.78,
            2,
            True,
            "completion: 2 training jobs in a row not improving the best; convergence detected "
            "at 2026-11-27 11:00:00 UTC; ConvergenceDetected met (inferred)",
        ),
        (
            "InProgress",
            0.81,
            1,
            False,
            "completion: 1 training jobs in a row not improving the best",
        ),
    ],
)
def test_analyze_shows_the_completion_details(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
    best: float,
    not_improving: int,
    converged: bool,
    line: str,
) -> None:
    import boto3
    from botocore.stub import Stubber

    sm = boto3.client("sagemaker", region_name="eu-west-1")
    stub = Stubber(sm)
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        described(status, best, not_improving, converged),
        {"HyperParameterTuningJobName": NAME},
    )
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": []},
        {"HyperParameterTuningJobName": NAME},
    )
    monkeypatch.setattr(sagemaker, "client", lambda region=None: sm)
    namespace = argparse.Namespace(name=NAME, region=None, csv=None, plot=None)
    with stub:
        assert commands._analyze(namespace) == 0
        stub.assert_no_pending_responses()
    assert capsys.readouterr().out.splitlines() == ["no training jobs yet", line]


def test_a_job_without_details_shows_none() -> None:
    assert sagemaker.completion_line(description("Completed")) is None
