"""boto3 operations with botocore's Stubber (exact parameters), and a moto round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from smtune.tuning import report, sagemaker
from smtune.tuning.planning.planner import plan
from smtune.tuning.request import build_request
from smtune.tuning.spec import load
from tests.tuning.conftest import SEED

NAME = "xgboost-bank-hyperband"
T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def stubbed() -> Any:
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(sm) as stub:
        yield sm, stub
        stub.assert_no_pending_responses()


def description(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": NAME,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:"
        f"hyper-parameter-tuning-job/{NAME}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Hyperband",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:auc",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 3},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T0,
        "TrainingJobStatusCounters": {"Completed": 2, "InProgress": 1, "Stopped": 1},
        "ObjectiveStatusCounters": {"Succeeded": 3},
        **extra,
    }


def test_submit_sends_the_planned_request(stubbed: Any) -> None:
    sm, stub = stubbed
    checked = plan(load(SEED))
    arn = description("InProgress")["HyperParameterTuningJobArn"]
    stub.add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": arn},
        build_request(checked),
    )
    assert sagemaker.submit(sm, checked) == arn


def test_wait_polls_until_the_job_ends_without_sleeping(stubbed: Any) -> None:
    sm, stub = stubbed
    for status in ("InProgress", "InProgress", "Completed"):
        stub.add_response(
            "describe_hyper_parameter_tuning_job",
            description(status),
            {"HyperParameterTuningJobName": NAME},
        )
    slept: list[float] = []
    seen: list[str] = []
    final = sagemaker.wait(
        sm,
        NAME,
        poll_s=30,
        sleep=slept.append,
        on_poll=lambda d: seen.append(d["HyperParameterTuningJobStatus"]),
    )
    assert final["HyperParameterTuningJobStatus"] == "Completed"
    assert slept == [30, 30] and seen == ["InProgress", "InProgress", "Completed"]


def test_status_line_and_stop(stubbed: Any) -> None:
    sm, stub = stubbed
    best = {
        "TrainingJobName": "job-007",
        "TrainingJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/job-007",
        "CreationTime": T0,
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"eta": "0.2"},
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "MetricName": "validation:auc",
            "Value": 0.781,
        },
    }
    stub.add_response(
        "describe_hyper_parameter_tuning_job",
        description("InProgress", BestTrainingJob=best),
        {"HyperParameterTuningJobName": NAME},
    )
    stub.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": NAME})
    line = sagemaker.status_line(sagemaker.describe(sm, NAME))
    assert line == (
        f"{NAME}: InProgress (Completed 2, InProgress 1, Stopped 1); "
        "best job-007: validation:auc = 0.781"
    )
    sagemaker.stop(sm, NAME)


def summary(name: str, status: str, eta: str, value: float | None, minutes: int) -> dict[str, Any]:
    job: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{name}",
        "CreationTime": T0,
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": eta, "max_depth": "6"},
        "TrainingStartTime": T0,
        "TrainingEndTime": T0 + dt.timedelta(minutes=minutes),
    }
    if value is not None:
        job["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "validation:auc",
            "Value": value,
        }
    return job


def training_job(name: str, spot: bool) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://my-bucket/{name}/model.tar.gz"},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 3,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": T0,
        "EnableManagedSpotTraining": spot,
        "TrainingTimeInSeconds": 600,
        "BillableTimeInSeconds": 240 if spot else 600,
    }


def test_analytics_pages_through_jobs_and_prices_them(stubbed: Any, tmp_path: Path) -> None:
    sm, stub = stubbed
    first = [
        summary("job-1", "Completed", "0.1", 0.76, 10),
        summary("job-2", "Stopped", "0.4", 0.71, 3),
    ]
    second = [summary("job-3", "Failed", "0.3", None, 1)]
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": first, "NextToken": "page-2"},
        {"HyperParameterTuningJobName": NAME},
    )
    stub.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": second},
        {"HyperParameterTuningJobName": NAME, "NextToken": "page-2"},
    )
    for name, spot in (("job-1", True), ("job-2", False), ("job-3", False)):
        stub.add_response(
            "describe_training_job", training_job(name, spot), {"TrainingJobName": name}
        )
    frame = sagemaker.analytics(sm, NAME)
    assert list(frame["TrainingJobName"]) == ["job-1", "job-2", "job-3"]
    assert set(report.COLUMNS) | {"eta", "max_depth"} == set(frame.columns)
    assert list(frame["eta"]) == [0.1, 0.4, 0.3]  # numbers, as the SDK's analytics gives them
    assert list(frame["TrainingElapsedTimeSeconds"]) == [600, 180, 60]
    assert list(frame["BillableInstanceSeconds"]) == [1800, 540, 180]
    assert frame["SpotSavings"][0] == pytest.approx(0.6) and frame["SpotSavings"][1:].isna().all()
    assert report.best_job(frame, "Maximize")["TrainingJobName"] == "job-1"
    assert report.best_job(frame, "Minimize")["TrainingJobName"] == "job-2"
    png = tmp_path / "objective.png"
    report.plot(frame, png, "validation:auc")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_create_then_describe_round_trip_on_moto() -> None:
    from moto import mock_aws

    checked = plan(load(SEED))
    with mock_aws():
        sm = sagemaker.client("eu-west-1")
        arn = sagemaker.submit(sm, checked)
        assert arn.endswith(f"hyper-parameter-tuning-job/{NAME}")
        described = sagemaker.describe(sm, NAME)
    config = described["HyperParameterTuningJobConfig"]
    assert (
        config["StrategyConfig"]
        == build_request(checked)["HyperParameterTuningJobConfig"]["StrategyConfig"]
    )
    assert (
        config["ParameterRanges"]
        == build_request(checked)["HyperParameterTuningJobConfig"]["ParameterRanges"]
    )
    assert (
        described["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
        == (
            build_request(checked)["TrainingJobDefinition"]["AlgorithmSpecification"][
                "MetricDefinitions"
            ]
        )
    )


def test_cli_reports_an_aws_error_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", "tune", "status", NAME],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("smtune: AWS error:") and "Traceback" not in result.stderr
