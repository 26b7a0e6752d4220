"""`smtune study --on sagemaker` with botocore's Stubber: exact requests, then the report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from smtune.containers.demo import NOTEBOOK_HYPERPARAMETERS as BASELINE  # the seed's, untuned
from smtune.tuning.request import build_request
from smtune.tuning.study import on_sagemaker as study_sagemaker
from smtune.tuning.study import tuning_seam as seam
from smtune.tuning.study.model import read
from tests.tuning.conftest import ECR
from tests.tuning.test_sagemaker import (  # noqa: F401  (stubbed is a fixture)
    T0,
    stubbed,
    summary,
    training_job,
)

REPO = Path(__file__).resolve().parents[3]


def baseline_request(hosts: int) -> dict[str, Any]:
    """The baseline's CreateTrainingJob, written out: the seed's job, untuned, at `hosts`."""
    bucket = "s3://my-bucket/bank-marketing"
    return {
        "TrainingJobName": f"xgboost-bank-study-base-h{hosts}",
        "HyperParameters": BASELINE,
        "AlgorithmSpecification": {
            "TrainingImage": f"{ECR}/smtune-xgboost:0.1.0",
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": name, "Regex": regex}
                for name, regex in ((m["Name"], m["Regex"]) for m in _metric_definitions())
            ],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{bucket}/train/",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
                "ContentType": "text/csv",
            },
            {
                "ChannelName": "validation",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{bucket}/validation/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            },
        ],
        "OutputDataConfig": {"S3OutputPath": f"{bucket}/output/"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": hosts,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        "EnableManagedSpotTraining": True,
        "Tags": [{"Key": "project", "Value": "smtune"}],
    }


def _metric_definitions() -> list[dict[str, str]]:
    from smtune.containers.catalogue import image

    return [m.definition() for m in image("xgboost").emitted_metrics({"eval_metric": "auc"})]


def tuning_description(name: str, minutes: int) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:"
        f"hyper-parameter-tuning-job/{name}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Hyperband",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 3},
        },
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": T0,
        "HyperParameterTuningEndTime": T0 + dt.timedelta(minutes=minutes),
        "TrainingJobStatusCounters": {"Completed": 1, "Stopped": 1},
        "ObjectiveStatusCounters": {"Succeeded": 2},
    }


def baseline_description(hosts: int, status: str, auc: float) -> dict[str, Any]:
    job = training_job(f"xgboost-bank-study-base-h{hosts}", spot=False)
    job["TrainingJobStatus"] = status
    job["ResourceConfig"]["InstanceCount"] = hosts
    job["TrainingTimeInSeconds"] = 600 // hosts
    job["BillableTimeInSeconds"] = 600 // hosts
    if status == "Completed":
        job["FinalMetricDataList"] = [
            {"MetricName": "validation:auc", "Value": auc, "Timestamp": T0},
            {"MetricName": "train:auc", "Value": 0.9, "Timestamp": T0},
        ]
    return job


def stub_waits(stub: Stubber) -> None:
    """What SageMaker answers while the study waits, then its jobs' results."""
    # The waits: the 1-host baseline is still running at the first look.
    for hosts, status, auc in (
        (1, "InProgress", 0.0),
        (1, "Completed", 0.78),
        (2, "Completed", 0.63),
    ):
        stub.add_response(
            "describe_training_job",
            baseline_description(hosts, status, auc),
            {"TrainingJobName": f"xgboost-bank-study-base-h{hosts}"},
        )
    for hosts, minutes in ((1, 24), (2, 12)):
        name = f"xgboost-bank-hyperband-h{hosts}"
        stub.add_response(
            "describe_hyper_parameter_tuning_job",
            tuning_description(name, minutes),
            {"HyperParameterTuningJobName": name},
        )
        jobs = [
            summary(f"{name}-001", "Completed", "0.1", 0.70 + hosts / 100, 10),
            summary(f"{name}-002", "Stopped", "0.4", 0.60, 2),
        ]
        stub.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": jobs},
            {"HyperParameterTuningJobName": name},
        )
        for job in jobs:
            described = training_job(job["TrainingJobName"], spot=False)
            described["ResourceConfig"]["InstanceCount"] = hosts
            stub.add_response(
                "describe_training_job", described, {"TrainingJobName": job["TrainingJobName"]}
            )


def test_the_study_on_sagemaker_submits_waits_and_reports(
    stubbed: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    sm, stub = stubbed
    study = read(REPO / "tuning" / "studies" / "xgboost-bank.yaml")
    for hosts in (1, 2):
        stub.add_response(
            "create_training_job",
            {"TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/b{hosts}"},
            baseline_request(hosts),
        )
    for hosts in (1, 2):
        request = build_request(seam.check(seam.at_size(study.spec, hosts), registry=None))
        assert request["HyperParameterTuningJobName"] == f"xgboost-bank-hyperband-h{hosts}"
        assert request["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] == hosts
        stub.add_response(
            "create_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobArn": f"arn:aws:sagemaker:eu-west-1:1:h/{hosts}"},
            request,
        )
    stub_waits(stub)
    slept: list[float] = []
    names = study_sagemaker.submit(sm, study, (1, 2), registry=None)
    assert names[-1] == "xgboost-bank-hyperband-h2"
    result = study_sagemaker.collect(sm, study, (1, 2), sleep=slept.append, poll_s=60)
    assert slept == [60]  # one wait: the 1-host baseline's
    from smtune.tuning.study import report

    written = report.write(study, result, tmp_path, plots=False)
    data = json.loads(written[2].read_text())
    assert data["baseline"] == [
        {"hosts": 1, "status": "Completed", "objective": 0.78, "wall_seconds": 600.0,
         "billable_seconds": 600.0},
        {"hosts": 2, "status": "Completed", "objective": 0.63, "wall_seconds": 300.0,
         "billable_seconds": 600.0},
    ]  # fmt: skip
    tuned = data["tuned"][1]
    assert tuned["best_objective"] == 0.72 and tuned["best_job"] == "xgboost-bank-hyperband-h2-001"
    assert tuned["wall_seconds"] == 720.0
    assert tuned["billable_seconds"] == (600 + 120) * 2  # each job's minutes x its hosts
    assert tuned["billable_seconds_worst_case"] == 600 * 2 * 2  # both as long as the completed
    assert tuned["resource_used"] == 200 + 40 and tuned["resource_worst_case"] == 400
    assert tuned["best_hyperparameters"] == {"eta": 0.1, "max_depth": 6.0}
    assert "estimated from each job's time" in written[0].read_text()


def test_resume_on_sagemaker_creates_nothing_and_reports(
    stubbed: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """--resume: the jobs exist; the study only waits and reports (a create would fail the
    Stubber: no response is queued for it)."""
    sm, stub = stubbed
    stub_waits(stub)
    monkeypatch.setattr(seam, "sagemaker_client", lambda region: sm)
    study = read(REPO / "tuning" / "studies" / "xgboost-bank.yaml")
    args = argparse.Namespace(region=None, resume=True, registry=None, out=tmp_path)
    slept: list[float] = []
    assert study_sagemaker.run_on_sagemaker(study, (1, 2), args, slept.append) == 0
    assert slept == [60.0]
    assert json.loads((tmp_path / "study.json").read_text())["choice"]["hosts"] in (1, 2)


def test_a_study_on_sagemaker_into_an_out_folder_in_use_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from smtune.tuning.cli import main
    from tests.containers.test_lock import held_in_child

    def submitted(*_: Any) -> int:
        raise AssertionError("SageMaker was called with --out in use")

    monkeypatch.setattr(study_sagemaker, "run_on_sagemaker", submitted)
    out = tmp_path / "out"
    with held_in_child(out) as first:  # it writes the report there when its jobs end
        study = REPO / "tuning" / "studies" / "xgboost-bank.yaml"
        code = main(["study", str(study), "--on", "sagemaker", "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 2, error
    assert f"smtune: error: --out {out} is in use by pid {first.pid} since " in error
