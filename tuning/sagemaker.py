"""Tuning jobs on SageMaker through boto3: submit, describe, wait, stop, list, analyze.

The analytics frame has the columns of the SageMaker SDK's HyperparameterTuningJobAnalytics
(the tuned hyperparameters, TrainingJobName, TrainingJobStatus, FinalObjectiveValue,
TrainingStartTime, TrainingEndTime, TrainingElapsedTimeSeconds), plus what a bill needs:
InstanceCount, BillableInstanceSeconds (elapsed x instances) and, for spot jobs, the
SpotSavings SageMaker reports (1 - billable / training time).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from smtune.containers.script import ScriptSpec
from smtune.containers.status import TuningJobStatus
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt.ranges import described_ranges
from smtune.tuning.amt.warm_start import Parent, ParentJob, TuningShape, warm_start_problems
from smtune.tuning.plan import Objective, TuningPlan, require_images
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError


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
    URI is a placeholder (planned without a registry) is refused before any call; so is a
    warm start that breaks AMT's rules, every problem listed, once its parents are described."""
    require_images(plan)
    if plan.warm_start is not None:
        problems = parents_problems(sagemaker, plan)
        if problems:
            raise SpecError(plan.name, problems)
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


def parents_problems(sagemaker: Any, plan: TuningPlan) -> list[str]:
    """Every reason `plan` cannot warm-start from the parents its WarmStartConfig names, as
    AWS describes them (tuning.amt.warm_start has the rules)."""
    from botocore.exceptions import ClientError

    from smtune.tuning.plan import shape_of

    if plan.warm_start is None:
        return []
    problems, parents = [], []
    for name in plan.warm_start.parents:
        try:
            parents.append(parent(sagemaker, name))
        except ClientError as error:
            problems.append(f"warm_start.parents: {name!r}: {error.response['Error']['Message']}")
        except NotAParent as error:
            problems.append(f"warm_start.parents: {name!r}: {error}")
    if problems:
        return problems
    channels = {c.name: c.s3_uri for c in plan.definition.channels}
    return warm_start_problems(
        shape_of(plan, channels), plan.limits.max_jobs, parents, plan.warm_start.type
    )


def parent(sagemaker: Any, name: str) -> Parent:
    """A warm start parent as AWS describes it: its shape, its status, its training jobs.

    Static hyperparameters whose names start with "_" are left out: the SageMaker SDK adds
    them (`_tuning_objective_metric`), the algorithm never sees them as its own, and a parent
    made with the SDK would otherwise never match a child made with `submit`.
    """
    description = describe(sagemaker, name)
    config = description["HyperParameterTuningJobConfig"]
    definition = description.get("TrainingJobDefinition")
    if definition is None:  # several definitions: TrainingJobDefinitions
        raise NotAParent("it has several training job definitions: not checked here")
    given = config["HyperParameterTuningJobObjective"]
    algorithm = definition["AlgorithmSpecification"]
    shape = TuningShape(
        name=name,
        objective_metric=given["MetricName"],
        maximize=given["Type"] == Direction.MAXIMIZE.value,
        static={
            k: v for k, v in definition.get("StaticHyperParameters", {}).items() if k[:1] != "_"
        },
        tunable=described_ranges(config.get("ParameterRanges", {})),
        image=algorithm.get("TrainingImage") or algorithm.get("AlgorithmName", ""),
        channels={
            c["ChannelName"]: c["DataSource"].get("S3DataSource", {}).get("S3Uri", "")
            for c in definition.get("InputDataConfig", [])
        },
    )
    jobs = tuple(
        ParentJob(
            tuning_job=name,
            training_job=job["TrainingJobName"],
            hyperparameters=dict(job.get("TunedHyperParameters", {})),
            objective=job.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
        )
        for job in training_jobs(sagemaker, name)
    )
    given_status = description["HyperParameterTuningJobStatus"]
    try:
        state = TuningJobStatus(given_status)
    except ValueError:
        raise NotAParent(f"status {given_status}: a deleted tuning job is no parent") from None
    return Parent(shape, state, jobs)


class NotAParent(Exception):
    """A described tuning job that cannot be a parent, whatever the child."""


def warm_start_lines(description: dict[str, Any]) -> list[str]:
    """What `analyze` says of a described tuning job's warm start: its parents, and AMT's
    OverallBestTrainingJob (reported for IdenticalDataAndAlgorithm)."""
    config = description.get("WarmStartConfig")
    if not config:
        return []
    names = [p["HyperParameterTuningJobName"] for p in config["ParentHyperParameterTuningJobs"]]
    lines = [f"warm start: {config['WarmStartType']} from {', '.join(names)}"]
    best = description.get("OverallBestTrainingJob", {})
    if "FinalHyperParameterTuningJobObjectiveMetric" in best:
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        lines.append(
            f"overall best (parents included): {best['TrainingJobName']} "
            f"{metric['MetricName']} = {metric['Value']:g}"
        )
    return lines


def objective(description: dict[str, Any]) -> Objective:
    """The objective of a described tuning job (AWS's answer, not a request of ours); one
    of several training job definitions has it in each (they share it: planning.several)."""
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
