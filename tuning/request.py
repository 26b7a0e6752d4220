"""A TuningJobSpec becomes a TuningPlan, checked offline; the plan becomes the
CreateHyperParameterTuningJob request here, and only here (`build_request`).

botocore's ParamValidator, run on the request against the SageMaker service model, catches
types, required fields and minimums. It does not check enum values, and it accepts a
Hyperband config without MinResource; nor can it know what the image accepts. The checks
here do, each naming the field, the value and the rule, so that a bad spec fails in a second
on the user's machine instead of as 30 failed training jobs.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import Any, TypeVar

from smtune.containers.catalogue import IMAGES, ImageSpec
from smtune.containers.script import ScriptSpec
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.metrics import Direction, MetricSpec
from smtune.tuning.completion import completion_of
from smtune.tuning.definitions import plan_several, the_only
from smtune.tuning.hyperband import Range, api_ranges, brackets
from smtune.tuning.metrics import MAX_NAME_LENGTH, Metric, reads_its_own_line
from smtune.tuning.plan import (
    UNSET_REGISTRY,
    Channel,
    EarlyStopping,
    HyperbandConfig,
    Instance,
    Objective,
    ResourceLimits,
    Spot,
    Strategy,
    TrainingDefinition,
    TuningPlan,
    WarmStart,
)
from smtune.tuning.retries import retry_of
from smtune.tuning.script import (
    check_script_hyperparameters,
    declared_metrics,
    script_of,
    source_uri,
)
from smtune.tuning.script import static_hyperparameters as script_static
from smtune.tuning.spec import SpecError, TuningJobSpec
from smtune.tuning.strategies.autotune import auto_parameter_problems, autotune_warning
from smtune.tuning.strategies.completion import CompletionCriteria
from smtune.tuning.strategies.grid import grid_problems
from smtune.tuning.strategies.warm_start import WarmStartType

E = TypeVar("E", bound=enum.Enum)
OPERATION = "CreateHyperParameterTuningJob"
# Static hyperparameters AMT reads MaxResource from when the Hyperband config has none.
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
MAX_RESOURCE_LIMIT = 20_000  # AMT's upper bound on Hyperband's MaxResource
MAX_TUNED = 30  # AMT: hyperparameters tuned at once, all range types together
# What a script's objective line stands for: AMT reads a script's MaxResource from a static
# `epochs` (EPOCH_HYPERPARAMETERS), so a script is taken to print one line per epoch.
SCRIPT_RESOURCE = "epochs"


@cache
def service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def _shape(*path: str) -> Any:
    """A member shape of the operation's input, by its path (lists step into their member)."""
    shape = service_model().operation_model(OPERATION).input_shape
    for name in path:
        shape = shape.members[name]
        if shape.type_name == "list":
            shape = shape.member
    return shape


def allowed(*path: str) -> list[str]:
    """The enum values of a request field, read from the service model."""
    return list(_shape(*path).enum)


def resolve_image(
    spec: TuningJobSpec, registry: str | None, tag: str
) -> tuple[ImageSpec, str, list[str]]:
    """The catalogue image, its URI and warnings: `xgboost` at REGISTRY with TAG, or a full
    URI. A catalogue name with no registry known plans with a placeholder URI, which `plan`
    shows and warns of, and `submit` refuses."""
    if spec.image in IMAGES:
        image = IMAGES[spec.image]
        registry = registry or os.environ.get("REGISTRY")
        if registry:
            return image, f"{registry.rstrip('/')}/{image.repository}:{tag}", []
        uri = f"{UNSET_REGISTRY}/{image.repository}:{tag}"
        return (
            image,
            uri,
            [
                f"image: {spec.image!r} is a catalogue name and no registry is set: the request "
                f"shows {uri}; before submit, set REGISTRY (e.g. "
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com), pass --registry, or write the "
                "image's full URI"
            ],
        )
    repository = spec.image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    for image in IMAGES.values():
        if repository == image.repository:
            return image, spec.image, []
    names = ", ".join(f"{i.repository} ({n})" for n, i in IMAGES.items())
    raise SpecError(
        "spec",
        [
            f"image: {spec.image!r} is not a smtune image: its repository must be one of {names}, "
            "so that its metric definitions and hyperparameter rules are known"
        ],
    )


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


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _max_resource(spec: TuningJobSpec) -> int | None:
    """MaxResource as given, or as AMT infers it from a static epochs-like hyperparameter."""
    if spec.strategy.max_resource is not None:
        return spec.strategy.max_resource
    for name in EPOCH_HYPERPARAMETERS:
        value = spec.static_hyperparameters.get(name)
        if value is not None and str(value).isdigit():
            return int(value)
    return None


def check_enums(spec: TuningJobSpec) -> list[str]:
    problems = []
    config = ("HyperParameterTuningJobConfig",)
    for where, value, path in [
        ("strategy.type", spec.strategy.type, (*config, "Strategy")),
        ("early_stopping", spec.early_stopping, (*config, "TrainingJobEarlyStoppingType")),
        (
            "instance.type",
            spec.instance.type,
            ("TrainingJobDefinition", "ResourceConfig", "InstanceType"),
        ),
        *[
            (
                f"channels.{name}.distribution",
                channel.distribution,
                (
                    "TrainingJobDefinition",
                    "InputDataConfig",
                    "DataSource",
                    "S3DataSource",
                    "S3DataDistributionType",
                ),
            )
            for name, channel in spec.channels.items()
        ],
    ]:
        choices = allowed(*path)
        if value is not None and value not in choices:
            shown = ", ".join(choices) if len(choices) <= 8 else f"one of {len(choices)} values"
            hint = " (e.g. ml.m5.xlarge)" if where == "instance.type" else ""
            problems.append(f"{where}: {value!r} is not allowed: must be {shown}{hint}")
    return problems


def check_hyperband(
    spec: TuningJobSpec, resource: str, max_resource: int | None, ranges: Mapping[str, Range]
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the Hyperband strategy; `resource` is what one objective line
    stands for, a hyperparameter of that name sets how many a job prints; `ranges`, the
    spec's ranges without problems of their own."""
    problems: list[str] = []
    warnings: list[str] = []
    strategy = spec.strategy
    if strategy.type != "Hyperband":
        if strategy.min_resource is not None or strategy.max_resource is not None:
            problems.append(
                f"strategy: min_resource and max_resource apply to Hyperband only, not to "
                f"strategy.type={strategy.type!r}"
            )
        return problems, warnings
    if spec.early_stopping not in (None, "Off"):
        problems.append(
            f"early_stopping: {spec.early_stopping!r} is not allowed with Hyperband: "
            "must be 'Off' (Hyperband stops jobs early itself)"
        )
    if strategy.min_resource is None:
        problems.append(
            "strategy.min_resource is required for Hyperband: the number of "
            f"iterations ({resource}) before any job may be stopped"
        )
    if max_resource is None:
        problems.append(
            "strategy.max_resource is required for Hyperband: set it, or a static "
            f"hyperparameter {' / '.join(EPOCH_HYPERPARAMETERS)} to infer it from, as SageMaker "
            "would"
        )
        return problems, warnings
    if max_resource > MAX_RESOURCE_LIMIT:
        problems.append(
            f"strategy.max_resource: {max_resource} is out of range: must be "
            f"max_resource <= {MAX_RESOURCE_LIMIT}"
        )
    if strategy.min_resource is not None and strategy.min_resource > max_resource:
        problems.append(
            f"strategy.min_resource: {strategy.min_resource} is out of range: must be "
            f"min_resource <= max_resource={max_resource}"
        )
    tuned = ranges[resource].bounds if resource in ranges else None
    if tuned is not None and tuned[1] > max_resource:
        low, high = tuned
        warnings.append(
            f"{resource} is tuned in [{low:g}, {high:g}] but Hyperband stops every job "
            f"after max_resource={max_resource} {resource} lines, so {resource} is never really "
            f"tuned. Fix: make {resource} static ({resource}: {high:g}) and set "
            f"strategy.max_resource: {high:g}; Hyperband then chooses how long each job runs"
        )
    static = spec.static_hyperparameters.get(resource)
    if static is not None and str(static).isdigit() and int(static) != max_resource:
        warnings.append(
            f"{resource}={static} but strategy.max_resource={max_resource}: "
            + (
                "jobs end before reaching max_resource, and Hyperband's last rung is never met"
                if int(static) < max_resource
                else f"every job is stopped at {max_resource}, {int(static) - max_resource} rounds "
                "early"
            )
            + ". Fix: set both to the same value"
        )
    return problems, warnings


def check_strategy(spec: TuningJobSpec, ranges: Mapping[str, Range]) -> list[str]:
    """The strategies' rules but Hyperband's own (`check_hyperband`): a Grid's ranges and
    number of jobs, who may leave the number of jobs to AMT, and Autotune's auto parameters;
    `ranges`, the spec's ranges without problems of their own."""
    problems = auto_parameter_problems(
        spec.autotune, spec.auto_parameters, spec.static_hyperparameters, spec.ranges
    )
    if spec.strategy.type == Strategy.GRID.value:
        return problems + grid_problems(ranges, spec.limits.max_jobs)
    if spec.limits.max_jobs is None and not spec.autotune:
        problems.append(
            f"limits.max_jobs is required with strategy.type={spec.strategy.type!r}: only a Grid "
            "search (one job per combination) or autotune: true leaves it to AMT"
        )
    return problems


def check_ranges(spec: TuningJobSpec) -> list[str]:
    """Ranges AMT itself refuses, whatever runs the job."""
    problems = []
    for name in set(spec.static_hyperparameters) & set(spec.ranges):
        problems.append(f"ranges.{name}: {name} is also a static hyperparameter: keep one")
    for name, r in spec.ranges.items():
        problems += [f"ranges.{name}: {problem}" for problem in r.problems()]
    return problems


def check_against_image(
    spec: TuningJobSpec, image: ImageSpec, ranges: Mapping[str, Range]
) -> list[str]:
    """Ranges and static values the image itself would reject at run time; `ranges`, the
    spec's ranges without problems of their own."""
    problems = []
    declared = image.hyperparameters.declared
    for name, value in spec.static_hyperparameters.items():
        if name not in declared:
            problems.append(
                f"static_hyperparameters.{name}: the {image.name} image has no "
                f"hyperparameter {name!r}"
            )
            continue
        problems += _image_rule(f"static_hyperparameters.{name}", declared[name], _text(value))
    for name, hint in spec.auto_parameters.items():
        where = f"auto_parameters.{name}"
        if name not in declared:
            problems.append(f"{where}: the {image.name} image has no hyperparameter {name!r}")
            continue
        problems += _image_rule(where, declared[name], _text(hint))
    for name in spec.ranges:
        where = f"ranges.{name}"
        if name not in declared:
            problems.append(f"{where}: the {image.name} image has no hyperparameter {name!r}")
            continue
        for value in ranges[name].edge_values if name in ranges else ():
            problems += _image_rule(where, declared[name], value)
    return problems


def _image_rule(where: str, rule: Any, value: str) -> list[str]:
    try:
        rule.parse(value)
    except UserError as error:
        return [f"{where}: the image would reject it: {error.message}"]
    return []


def check_limits(spec: TuningJobSpec, metrics: tuple[Metric, ...]) -> list[str]:
    problems = []
    if len(spec.ranges) > MAX_TUNED:
        problems.append(
            f"ranges: {len(spec.ranges)} hyperparameters are tuned: must be at most {MAX_TUNED}"
        )
    max_jobs = spec.limits.max_jobs  # None: AMT's (check_strategy says when it may be)
    if max_jobs is not None and spec.limits.max_parallel_jobs > max_jobs:
        problems.append(
            f"limits.max_parallel_jobs: {spec.limits.max_parallel_jobs} is out of range: must be "
            f"max_parallel_jobs <= max_jobs={max_jobs}"
        )
    if spec.spot.enabled and (spec.spot.max_wait_seconds or 0) < spec.limits.max_runtime_seconds:
        problems.append(
            f"spot.max_wait_seconds: {spec.spot.max_wait_seconds} is out of range: must be >= "
            f"limits.max_runtime_seconds={spec.limits.max_runtime_seconds}"
        )
    most = (
        _shape("TrainingJobDefinition", "AlgorithmSpecification")
        .members["MetricDefinitions"]
        .metadata.get("max", 40)
    )
    for metric in metrics:  # MetricSpec keeps regexes short; a catalogue entry could still err
        if len(metric.name) > MAX_NAME_LENGTH or len(metric.regex) > 500:
            problems.append(
                f"metric {metric.name[:40]!r}: name must be <= {MAX_NAME_LENGTH} characters "
                "and regex <= 500"
            )
    if len(metrics) > most:
        problems.append(
            f"the job emits {len(metrics)} metrics: SageMaker takes "
            f"at most {most} metric definitions"
        )
    return problems


def check_objective(spec: TuningJobSpec, metrics: tuple[Metric, ...]) -> list[str]:
    by_name = {m.name: m for m in metrics}
    chosen = by_name.get(spec.objective.metric)
    if chosen is None:
        return [
            f"objective.metric: {spec.objective.metric!r} is not a metric this job emits: "
            f"must be one of {', '.join(by_name) or '(none declared)'}"
        ]
    problems = []
    if chosen.direction is None and spec.objective.type is None:
        problems.append(
            f"objective.type is required: the metric {chosen.name!r} has no direction: "
            "must be Maximize or Minimize (or give the metric a direction)"
        )
    direction = chosen.direction
    if spec.objective.type and direction and spec.objective.type != direction.value:
        problems.append(
            f"objective.type: {spec.objective.type} contradicts {chosen.name}, where "
            f"{direction.value.lower()[:-1]}ing is better"
        )
    if isinstance(chosen, MetricSpec):
        problems += reads_its_own_line("objective.metric", chosen)
    return problems


def check_warm_start(spec: TuningJobSpec) -> tuple[WarmStart | None, list[str]]:
    """The spec's warm start and its problems offline: the parents' count and names (the
    service model's bounds and pattern, which botocore's ParamValidator does not check) and
    the type. The rules that compare this job with its parents need the parents'
    definitions: `submit` and `rehearse` check them (tuning.warm_start)."""
    given = spec.warm_start
    if given is None:
        return None, []
    problems = []
    bounds = _shape("WarmStartConfig").members["ParentHyperParameterTuningJobs"].metadata
    low, high = bounds["min"], bounds["max"]
    if not low <= len(given.parents) <= high:
        problems.append(
            f"warm_start.parents: {len(given.parents)} parents: must be {low} to {high}"
        )
    name = _shape(
        "WarmStartConfig", "ParentHyperParameterTuningJobs", "HyperParameterTuningJobName"
    )
    pattern = name.metadata["pattern"]
    for index, parent in enumerate(given.parents):
        where = f"warm_start.parents[{index}]"
        if not re.fullmatch(pattern, parent):
            problems.append(
                f"{where}: {parent!r} is no tuning job name: must match {pattern} (1 to 32 "
                "letters, digits and hyphens)"
            )
        elif parent in given.parents[:index]:
            problems.append(f"{where}: {parent!r} is named twice: name each parent once")
        elif parent == spec.name:
            problems.append(f"{where}: {parent!r} is this tuning job: it cannot be its own parent")
    types = allowed("WarmStartConfig", "WarmStartType")
    if given.type not in types:
        problems.append(
            f"warm_start.type: {given.type!r} is not allowed: must be {', '.join(types)}"
        )
    if problems:
        return None, problems
    return WarmStart(WarmStartType(given.type), tuple(given.parents)), []


def check_with_botocore(request: Mapping[str, Any]) -> list[str]:
    from botocore.validate import ParamValidator

    input_shape = service_model().operation_model(OPERATION).input_shape
    report = ParamValidator().validate(request, input_shape)
    if not report.has_errors():
        return []
    # One line per problem, no header (ParamValidationError adds that): keep every line.
    lines = report.generate_report().splitlines()
    return [f"request: {line.strip()}" for line in lines if line.strip()]


def _static(spec: TuningJobSpec, script: ScriptSpec | None, region: str | None) -> dict[str, str]:
    """StaticHyperParameters: as written for an image; a script's as SDK v2 sends them."""
    if script is None:
        return {k: _text(v) for k, v in spec.static_hyperparameters.items()}
    return script_static(spec, script, region)


def plan(
    spec: TuningJobSpec,
    registry: str | None = None,
    tag: str = "0.1.0",
    source: str = "spec",
    region: str | None = None,
) -> TuningPlan:
    """Check a spec every way we can offline; a SpecError lists every problem found.

    `registry`: where catalogue images live (default: $REGISTRY; with neither, the image's
    URI is a placeholder, and a warning says so). `region`: a script's sagemaker_region,
    left out when None.
    """
    if spec.definitions is not None:  # several: each planned as a spec of its own
        return plan_several(
            spec,
            lambda one: plan(one, registry, tag, source, region),
            lambda joined: check_with_botocore(build_request(joined)),
            source,
        )
    try:
        image, image_uri, warnings = resolve_image(spec, registry, tag)
    except SpecError as error:
        raise SpecError(source, error.problems) from None
    script, problems = script_of(spec)
    problems += check_enums(spec) + check_ranges(spec)
    # Each range becomes its typed value here, once; one with problems is left out.
    ranges = {name: r.to_range() for name, r in spec.ranges.items() if not r.problems()}
    metrics: tuple[Metric, ...]
    if spec.entry_point is None:  # the image's own algorithm, rules and metrics
        problems += check_against_image(spec, image, ranges)
        try:
            metrics = image.emitted_metrics(
                {k: _text(v) for k, v in spec.static_hyperparameters.items()}
            )
        except UserError as error:
            metrics = image.metric_specs
            problems.append(f"static_hyperparameters: {error.message}")
        resource = image.resource
    else:
        problems += check_script_hyperparameters(spec)
        metrics, metric_problems = declared_metrics(spec)
        problems += metric_problems
        resource = SCRIPT_RESOURCE
    max_resource = _max_resource(spec)
    hyperband_problems, hyperband_warnings = check_hyperband(spec, resource, max_resource, ranges)
    problems += hyperband_problems + check_limits(spec, metrics) + check_objective(spec, metrics)
    completion, completion_problems, completion_warnings = completion_of(spec)
    retry, retry_problems = retry_of(spec)
    problems += completion_problems + retry_problems
    problems += check_strategy(spec, ranges)
    definition = _training_definition(
        spec, image, image_uri, _static(spec, script, region), ranges, metrics, resource, script
    )
    checked = _tuning_plan(
        spec,
        replace(definition, retry=retry),
        max_resource,
        (*warnings, *hyperband_warnings, *completion_warnings),
    )
    warm_start, warm_start_problems = check_warm_start(spec)
    problems += warm_start_problems
    checked = replace(checked, completion=completion, warm_start=warm_start)
    problems += check_with_botocore(build_request(checked))
    if problems:
        raise SpecError(source, problems)
    if checked.hyperband is None:
        return checked
    return replace(
        checked, brackets=brackets(checked.hyperband.min_resource, checked.hyperband.max_resource)
    )


def _training_definition(
    spec: TuningJobSpec,
    image: ImageSpec,
    image_uri: str,
    static: dict[str, str],
    ranges: dict[str, Range],
    metrics: tuple[Metric, ...],
    resource: str,
    script: ScriptSpec | None,
) -> TrainingDefinition:
    """The spec's one training job definition, from its checked parts."""
    return TrainingDefinition(
        image=image,
        image_uri=image_uri,
        role=spec.role,
        instance=Instance(spec.instance.type, spec.instance.count, spec.instance.volume_gb),
        static_hyperparameters=static,
        ranges=ranges,
        metrics=metrics,
        channels=tuple(
            Channel(
                name,
                channel.s3_uri,
                # A distribution AMT lacks is listed by check_enums; see _tuning_plan.
                _known(
                    S3DistributionType, channel.distribution, S3DistributionType.FULLY_REPLICATED
                ),
                channel.content_type,
            )
            for name, channel in spec.channels.items()
        ),
        output_path=spec.output_path,
        checkpoint_uri=spec.checkpoint_s3_uri,
        # The spec requires a wait with spot (a check of its own when it is too short).
        spot=Spot(spec.spot.max_wait_seconds)
        if spec.spot.enabled and spec.spot.max_wait_seconds is not None
        else None,
        max_runtime_s=spec.limits.max_runtime_seconds,
        resource=resource,
        script=script,
        source_uri=source_uri(spec) if script is not None else None,
        auto_parameters={k: _text(v) for k, v in spec.auto_parameters.items()},
    )


def _tuning_plan(
    spec: TuningJobSpec,
    definition: TrainingDefinition,
    max_resource: int | None,
    warnings: tuple[str, ...],
) -> TuningPlan:
    """The plan of a spec whose problems are listed. Where a listed problem leaves a part
    unknown (a strategy or early stopping AMT does not have, a missing resource, an objective
    without direction), a valid stand-in takes its place: botocore then lists the request's
    other problems at once, and finds none in the stand-ins. A plan with stand-ins is never
    returned: its problems are."""
    strategy = _known(Strategy, spec.strategy.type, Strategy.RANDOM)
    max_jobs = spec.limits.max_jobs
    if max_jobs is None and not (spec.autotune or strategy is Strategy.GRID):
        max_jobs = 1  # check_strategy lists it
    early_stopping: EarlyStopping | None
    if spec.early_stopping is None:  # Off, unless Autotune chooses
        early_stopping = None if spec.autotune else EarlyStopping.OFF
    else:
        early_stopping = _known(EarlyStopping, spec.early_stopping, EarlyStopping.OFF)
    if spec.autotune:
        warnings = (*warnings, autotune_warning(strategy, max_jobs, early_stopping))
    hyperband = None
    if strategy is Strategy.HYPERBAND:
        given = spec.strategy.min_resource
        hyperband = HyperbandConfig(
            1 if given is None else given, 1 if max_resource is None else max_resource
        )
    emitted = {m.name: m.direction for m in definition.metrics}
    declared = Direction(spec.objective.type) if spec.objective.type is not None else None
    direction = declared or emitted.get(spec.objective.metric) or Direction.MAXIMIZE
    return TuningPlan(
        name=spec.name,
        strategy=strategy,
        hyperband=hyperband,
        objective=Objective(spec.objective.metric, direction),
        limits=ResourceLimits(max_jobs, spec.limits.max_parallel_jobs),
        early_stopping=early_stopping,
        random_seed=spec.random_seed,
        tags=dict(spec.tags),
        definitions=(definition,),
        warnings=warnings,
        autotune=spec.autotune,
    )


def _known(kind: type[E], value: str, stand_in: E) -> E:
    """`value` as the enum `kind`; one it lacks (check_enums lists it) gets the stand-in."""
    try:
        return kind(value)
    except ValueError:
        return stand_in
