"""Tuning jobs on SageMaker through boto3: submit, describe, wait, stop, list, analyze.

The analytics frame has the columns of the SageMaker SDK's HyperparameterTuningJobAnalytics
(the tuned hyperparameters, TrainingJobName, TrainingJobStatus, FinalObjectiveValue,
TrainingStartTime, TrainingEndTime, TrainingElapsedTimeSeconds), plus what a bill needs:
InstanceCount, BillableInstanceSeconds (elapsed x instances) and, for spot jobs, the
SpotSavings SageMaker reports (1 - billable / training time).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from typing import Any

from containers.script import ScriptSpec
from containers.status import JobStatus
from entrypoints.contract.metrics import Direction
from tuning.plan import Objective, TuningPlan, require_images
from tuning.request import build_request


class TuningJobStatus(enum.Enum):
    """A tuning job's status, spelled as the API spells HyperParameterTuningJobStatus (its
    training jobs' statuses are JobStatus)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"
    DELETED = "Deleted"

    @property
    def ended(self) -> bool:
        return self in (
            TuningJobStatus.COMPLETED,
            TuningJobStatus.FAILED,
            TuningJobStatus.STOPPED,
            TuningJobStatus.DELETED,
        )

    def ended_as(self) -> JobStatus:
        """How an ended tuning job ended, as a job ends (a deleted one has no results)."""
        if not self.ended:
            raise ValueError(f"tuning job status {self.value} has not ended")
        if self in (TuningJobStatus.COMPLETED, TuningJobStatus.STOPPED):
            return JobStatus(self.value)
        return JobStatus.FAILED


def status(description: dict[str, Any]) -> TuningJobStatus:
    """The status a DescribeHyperParameterTuningJob response gives."""
    return TuningJobStatus(description["HyperParameterTuningJobStatus"])


def client(region: str | None = None) -> Any:
    import boto3

    return boto3.client("sagemaker", region_name=region)


def s3_client(region: str | None = None) -> Any:
    import boto3

    return boto3.client("s3", region_name=region)


def submit(sagemaker: Any, plan: TuningPlan, s3: Any = None) -> str:
    """Create the tuning job; returns its ARN. A script's folder is uploaded first (with
    `s3`, a boto3 S3 client), where its sagemaker_submit_directory says. A plan whose image
    URI is a placeholder (planned without a registry) is refused before any call."""
    require_images(plan)
    request = build_request(plan)
    # Every definition runs the spec's script (if any), uploaded once to its one URI.
    scripts = {d.source_uri: d.script for d in plan.definitions if d.script and d.source_uri}
    for uri, script in scripts.items():
        if s3 is None:
            raise ValueError(f"{plan.name} runs a script: submit needs an S3 client")
        upload_source(s3, script, uri)
    return str(sagemaker.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"])


def upload_source(s3: Any, script: ScriptSpec, uri: str) -> str:
    """Pack the script's folder as SDK v2 does (sourcedir.tar.gz, files at its root) and put
    it at `uri`, encrypted at rest with S3's AWS-managed KMS key as the SDK puts it by
    default; returns that URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=script.archive(), ServerSideEncryption="aws:kms")
    return uri


def describe(sagemaker: Any, name: str) -> dict[str, Any]:
    return dict(sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))


def objective(description: dict[str, Any]) -> Objective:
    """The objective of a described tuning job (AWS's answer, not a request of ours); one
    of several training job definitions has it in each (they share it: see tuning.definitions)."""
    config = description["HyperParameterTuningJobConfig"]
    given = (
        config.get("HyperParameterTuningJobObjective")
        or (description["TrainingJobDefinitions"][0]["TuningObjective"])
    )
    return Objective(given["MetricName"], Direction(given["Type"]))


def stop(sagemaker: Any, name: str) -> None:
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def wait(
    sagemaker: Any,
    name: str,
    poll_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[dict[str, Any]], None] = lambda _: None,
) -> dict[str, Any]:
    """Describe the job until it ends; `sleep` is injected so tests never wait."""
    while True:
        description = describe(sagemaker, name)
        on_poll(description)
        if status(description).ended:
            return description
        sleep(poll_s)


def status_line(description: dict[str, Any]) -> str:
    counts = description.get("TrainingJobStatusCounters", {})
    shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    line = (
        f"{description['HyperParameterTuningJobName']}: "
        f"{description['HyperParameterTuningJobStatus']} ({shown or 'no training jobs yet'})"
    )
    best = description.get("BestTrainingJob")
    if best and "FinalHyperParameterTuningJobObjectiveMetric" in best:
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        line += f"; best {best['TrainingJobName']}: {metric['MetricName']} = {metric['Value']:g}"
    return line


def completion_line(description: dict[str, Any]) -> str | None:
    """TuningJobCompletionDetails of a described tuning job, in words (None: it has none).

    AWS reports the details (NumberOfTrainingJobsObjectiveNotImproving,
    ConvergenceDetectedTime), not which criterion ended the job: a Completed job's criterion
    is inferred from them, the criteria asked for and the best objective, and said to be so.
    """
    details = description.get("TuningJobCompletionDetails")
    if not details:
        return None
    not_improving = details.get("NumberOfTrainingJobsObjectiveNotImproving")
    converged = details.get("ConvergenceDetectedTime")
    parts = []
    if not_improving is not None:
        parts.append(f"{not_improving} training jobs in a row not improving the best")
    if converged is not None:
        parts.append(f"convergence detected at {converged:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    line = "completion: " + ("; ".join(parts) or "no details yet")
    met = _criterion_met(description, not_improving, converged)
    return line + (f"; {met} met (inferred)" if met else "")


def _criterion_met(description: dict[str, Any], not_improving: Any, converged: Any) -> str | None:
    if status(description) is not TuningJobStatus.COMPLETED:
        return None
    config = description["HyperParameterTuningJobConfig"]
    criteria = config.get("TuningJobCompletionCriteria") or {}
    best = (description.get("BestTrainingJob") or {}).get(
        "FinalHyperParameterTuningJobObjectiveMetric", {}
    )
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None and "Value" in best:
        maximize = objective(description).direction is Direction.MAXIMIZE
        if (best["Value"] >= target) if maximize else (best["Value"] <= target):
            return "TargetObjectiveMetricValue"
    limit = (criteria.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    if limit is not None and not_improving is not None and not_improving >= limit:
        return "BestObjectiveNotImproving"
    enabled = (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence")
    if enabled == "Enabled" and converged is not None:
        return "ConvergenceDetected"
    return None


def training_jobs(sagemaker: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every training job of the tuning job, across pages."""
    pages = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    for page in pages.paginate(HyperParameterTuningJobName=name):
        yield from page["TrainingJobSummaries"]


def _number(text: str) -> float | str:
    try:
        return float(text.strip('"'))
    except ValueError:
        return text


def analytics(sagemaker: Any, name: str) -> Any:
    """A pandas DataFrame, one row per training job (describing each for its bill)."""
    import pandas as pd

    rows = []
    for summary in list(training_jobs(sagemaker, name)):  # every page first, then the describes
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
        elapsed = (end - start).total_seconds() if start and end else None
        count = job["ResourceConfig"]["InstanceCount"]
        billable, trained = job.get("BillableTimeInSeconds"), job.get("TrainingTimeInSeconds")
        objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {})
        rows.append(
            {
                **{k: _number(v) for k, v in summary.get("TunedHyperParameters", {}).items()},
                "TrainingJobName": summary["TrainingJobName"],
                "TrainingJobStatus": summary["TrainingJobStatus"],
                "FinalObjectiveValue": objective.get("Value"),
                "TrainingStartTime": start,
                "TrainingEndTime": end,
                "TrainingElapsedTimeSeconds": elapsed,
                "InstanceCount": count,
                "BillableInstanceSeconds": elapsed * count if elapsed is not None else None,
                "SpotSavings": (1 - billable / trained)
                if job.get("EnableManagedSpotTraining") and billable is not None and trained
                else None,
                # Only a tuning job of several definitions names them.
                **(
                    {"TrainingJobDefinitionName": summary["TrainingJobDefinitionName"]}
                    if "TrainingJobDefinitionName" in summary
                    else {}
                ),
            }
        )
    return pd.DataFrame(rows)
