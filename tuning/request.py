"""A TuningPlan becomes the CreateHyperParameterTuningJob request here, and only here
(`build_request`); a study's baseline becomes a CreateTrainingJob request. The request reads
the plan, never the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smtune.tuning.amt.completion import CompletionCriteria
from smtune.tuning.amt.ranges import api_ranges
from smtune.tuning.plan import TrainingDefinition, TuningPlan, the_only


def build_request(plan: TuningPlan) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request of a plan: the one place it is written."""
    several = not the_only(plan.definitions)
    definition = plan.definitions[0]
    config: dict[str, Any] = {
        "Strategy": plan.strategy.value,
        "HyperParameterTuningJobObjective": config_objective(plan),
        "ResourceLimits": {"MaxParallelTrainingJobs": plan.limits.max_parallel_jobs},
        "ParameterRanges": api_ranges(definition.ranges),
    }
    if definition.auto_parameters:
        config["ParameterRanges"]["AutoParameters"] = [
            {"Name": name, "ValueHint": hint} for name, hint in definition.auto_parameters.items()
        ]
    # Left out where AMT chooses: a Grid's number of jobs, and what Autotune sets.
    if plan.limits.max_jobs is not None:
        config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = plan.limits.max_jobs
    if plan.early_stopping is not None:
        config["TrainingJobEarlyStoppingType"] = plan.early_stopping.value
    if plan.hyperband is not None:
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": plan.hyperband.min_resource,
                "MaxResource": plan.hyperband.max_resource,
            }
        }
    if plan.random_seed is not None:
        config["RandomSeed"] = plan.random_seed
    if plan.completion is not None:
        config["TuningJobCompletionCriteria"] = _completion(plan.completion)
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": plan.name,
        "HyperParameterTuningJobConfig": config,
    }
    if several:  # each definition has its objective and ranges, as SDK v2 sends them
        del config["HyperParameterTuningJobObjective"], config["ParameterRanges"]
        request["TrainingJobDefinitions"] = [
            {
                "DefinitionName": d.name,
                "TuningObjective": config_objective(plan),
                "HyperParameterRanges": api_ranges(d.ranges),
                **_definition(d),
            }
            for d in plan.definitions
        ]
    else:
        request["TrainingJobDefinition"] = _definition(definition)
    if plan.warm_start is not None:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": name} for name in plan.warm_start.parents
            ],
            "WarmStartType": plan.warm_start.type.value,
        }
    if plan.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in plan.tags.items()]
    if plan.autotune:
        request["Autotune"] = {"Mode": "Enabled"}
    return request


def _completion(criteria: CompletionCriteria) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if criteria.target_objective_metric_value is not None:
        rendered["TargetObjectiveMetricValue"] = criteria.target_objective_metric_value
    if criteria.max_number_of_training_jobs_not_improving is not None:
        limit = criteria.max_number_of_training_jobs_not_improving
        rendered["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": limit}
    if criteria.complete_on_convergence:
        rendered["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    return rendered


def config_objective(plan: TuningPlan) -> dict[str, str]:
    """The objective as the request gives it: the tuning job's, or each definition's."""
    return {"Type": plan.objective.direction.value, "MetricName": plan.objective.metric}


def keep_random_seed(request: dict[str, Any], seed: int) -> None:
    """Put a RandomSeed back into a request that left it out (SDK v3 drops a seed of 0)."""
    request["HyperParameterTuningJobConfig"].setdefault("RandomSeed", seed)


def keep_completion_target(request: dict[str, Any], target: float) -> None:
    """Put a TargetObjectiveMetricValue back into a request that left it out (SDK v3 drops a
    target of 0)."""
    config = request["HyperParameterTuningJobConfig"]
    config.setdefault("TuningJobCompletionCriteria", {}).setdefault(
        "TargetObjectiveMetricValue", target
    )


def _definition(definition: TrainingDefinition) -> dict[str, Any]:
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": definition.max_runtime_s}
    if definition.spot is not None:
        stopping["MaxWaitTimeInSeconds"] = definition.spot.max_wait_s
    rendered: dict[str, Any] = {
        "StaticHyperParameters": dict(definition.static_hyperparameters),
        "AlgorithmSpecification": {
            "TrainingImage": definition.image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [m.definition() for m in definition.metrics],
        },
        "RoleArn": definition.role,
        "InputDataConfig": [
            {
                "ChannelName": channel.name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": channel.s3_uri,
                        "S3DataDistributionType": channel.distribution.value,
                    }
                },
                **({"ContentType": channel.content_type} if channel.content_type else {}),
            }
            for channel in definition.channels
        ],
        "OutputDataConfig": {"S3OutputPath": definition.output_path},
        "ResourceConfig": {
            "InstanceType": definition.instance.type,
            "InstanceCount": definition.instance.count,
            "VolumeSizeInGB": definition.instance.volume_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": definition.spot is not None,
    }
    if definition.checkpoint_uri is not None:
        rendered["CheckpointConfig"] = {"S3Uri": definition.checkpoint_uri}
    if definition.retry is not None:
        attempts = definition.retry.maximum_retry_attempts
        rendered["RetryStrategy"] = {"MaximumRetryAttempts": attempts}
    return rendered


def baseline_training_job(
    plan: TuningPlan, name: str, hyperparameters: Mapping[str, str]
) -> dict[str, Any]:
    """CreateTrainingJob for one untuned job of `plan`'s definition (a study's baseline): its
    image, metrics, channels, instances and limits, with `hyperparameters` instead of the
    tuning job's."""
    rendered = _definition(plan.definition)
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "HyperParameters": dict(hyperparameters),
        **{
            key: rendered[key]
            for key in (
                "AlgorithmSpecification",
                "RoleArn",
                "InputDataConfig",
                "OutputDataConfig",
                "ResourceConfig",
                "StoppingCondition",
                "EnableManagedSpotTraining",
            )
        },
    }
    if plan.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in plan.tags.items()]
    return request
