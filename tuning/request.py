"""A TuningJobSpec becomes a CreateHyperParameterTuningJob request, checked offline.

botocore's ParamValidator, run on the request against the SageMaker service model, catches
types, required fields and minimums. It does not check enum values, and it accepts a
Hyperband config without MinResource; nor can it know what the image accepts. The checks
here do, each naming the field, the value and the rule, so that a bad spec fails in a second
on the user's machine instead of as 30 failed training jobs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from containers.catalogue import IMAGES, ImageSpec
from containers.script import ScriptSpec
from entrypoints.contract.errors import UserError
from entrypoints.contract.metrics import Direction, MetricSpec
from tuning.hyperband import Bracket, brackets
from tuning.metrics import MAX_NAME_LENGTH, Metric, reads_its_own_line
from tuning.script import (
    check_script_hyperparameters,
    declared_metrics,
    script_of,
    source_uri,
)
from tuning.script import static_hyperparameters as script_static
from tuning.spec import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    Scaling,
    SpecError,
    TuningJobSpec,
)

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


@dataclass(frozen=True)
class Plan:
    """A checked spec: the request to send, and what a person should know before sending it."""

    spec: TuningJobSpec
    image: ImageSpec
    image_uri: str
    request: dict[str, Any]
    metrics: tuple[Metric, ...]
    max_resource: int | None
    brackets: tuple[Bracket, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    script: ScriptSpec | None = None  # script mode: the image runs this instead

    @property
    def resource(self) -> str:
        """What one objective line stands for: the image's iterations, or a script's."""
        return self.image.resource if self.script is None else SCRIPT_RESOURCE

    @property
    def objective(self) -> Metric:
        return next(m for m in self.metrics if m.name == self.spec.objective.metric)

    @property
    def direction(self) -> Direction:
        config = self.request["HyperParameterTuningJobConfig"]
        return Direction(config["HyperParameterTuningJobObjective"]["Type"])

    @property
    def source_uri(self) -> str | None:
        """Where `submit` uploads a script's folder (its sagemaker_submit_directory)."""
        if self.script is None:
            return None
        return source_uri(self.spec)

    @property
    def worst_case_instance_seconds(self) -> int:
        """Billable instance-seconds if no job stopped early and each ran to its time limit."""
        limits = self.spec.limits
        return limits.max_jobs * self.spec.instance.count * limits.max_runtime_seconds


def resolve_image(spec: TuningJobSpec, registry: str | None, tag: str) -> tuple[ImageSpec, str]:
    """The catalogue image and the URI: `xgboost` with REGISTRY and TAG, or a full URI."""
    if spec.image in IMAGES:
        registry = registry or os.environ.get("REGISTRY")
        if not registry:
            raise SpecError(
                "spec",
                [
                    f"image: {spec.image!r} is a catalogue name: set REGISTRY (e.g. "
                    "123456789012.dkr.ecr.eu-west-1.amazonaws.com) or write the image's full URI"
                ],
            )
        image = IMAGES[spec.image]
        return image, f"{registry.rstrip('/')}/{image.repository}:{tag}"
    repository = spec.image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    for image in IMAGES.values():
        if repository == image.repository:
            return image, spec.image
    names = ", ".join(f"{i.repository} ({n})" for n, i in IMAGES.items())
    raise SpecError(
        "spec",
        [
            f"image: {spec.image!r} is not a smtune image: its repository must be one of {names}, "
            "so that its metric definitions and hyperparameter rules are known"
        ],
    )


def _ranges(spec: TuningJobSpec) -> dict[str, list[dict[str, Any]]]:
    ranges: dict[str, list[dict[str, Any]]] = {}
    for name, r in spec.ranges.items():
        if isinstance(r, CategoricalRange):
            entry: dict[str, Any] = {"Name": name, "Values": list(r.values)}
            ranges.setdefault("CategoricalParameterRanges", []).append(entry)
            continue
        kind = (
            "IntegerParameterRanges"
            if isinstance(r, IntegerRange)
            else ("ContinuousParameterRanges")
        )
        entry = {
            "Name": name,
            "MinValue": str(r.min),
            "MaxValue": str(r.max),
            "ScalingType": r.scaling.value,
        }
        ranges.setdefault(kind, []).append(entry)
    return ranges


def build_request(
    spec: TuningJobSpec,
    image_uri: str,
    metrics: tuple[Metric, ...],
    max_resource: int | None,
    static: Mapping[str, str],
) -> dict[str, Any]:
    direction = next((m.direction for m in metrics if m.name == spec.objective.metric), None)
    objective_type = spec.objective.type or (direction or Direction.MAXIMIZE).value
    config: dict[str, Any] = {
        "Strategy": spec.strategy.type,
        "HyperParameterTuningJobObjective": {
            "Type": objective_type,
            "MetricName": spec.objective.metric,
        },
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": spec.limits.max_jobs,
            "MaxParallelTrainingJobs": spec.limits.max_parallel_jobs,
        },
        "ParameterRanges": _ranges(spec),
        "TrainingJobEarlyStoppingType": spec.early_stopping,
    }
    if spec.strategy.type == "Hyperband":
        hyperband = {"MinResource": spec.strategy.min_resource, "MaxResource": max_resource}
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {k: v for k, v in hyperband.items() if v is not None}
        }
    if spec.random_seed is not None:
        config["RandomSeed"] = spec.random_seed
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": spec.limits.max_runtime_seconds}
    if spec.spot.enabled:
        stopping["MaxWaitTimeInSeconds"] = spec.spot.max_wait_seconds
    definition: dict[str, Any] = {
        "StaticHyperParameters": dict(static),
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [m.definition() for m in metrics],
        },
        "RoleArn": spec.role,
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": channel.s3_uri,
                        "S3DataDistributionType": channel.distribution,
                    }
                },
                **({"ContentType": channel.content_type} if channel.content_type else {}),
            }
            for name, channel in spec.channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": spec.output_path},
        "ResourceConfig": {
            "InstanceType": spec.instance.type,
            "InstanceCount": spec.instance.count,
            "VolumeSizeInGB": spec.instance.volume_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": spec.spot.enabled,
    }
    if spec.checkpoint_s3_uri:
        definition["CheckpointConfig"] = {"S3Uri": spec.checkpoint_s3_uri}
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": spec.name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    if spec.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
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
        if value not in choices:
            shown = ", ".join(choices) if len(choices) <= 8 else f"one of {len(choices)} values"
            hint = " (e.g. ml.m5.xlarge)" if where == "instance.type" else ""
            problems.append(f"{where}: {value!r} is not allowed: must be {shown}{hint}")
    return problems


def check_hyperband(
    spec: TuningJobSpec, resource: str, max_resource: int | None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the Hyperband strategy; `resource` is what one objective line
    stands for, a hyperparameter of that name sets how many a job prints."""
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
    if spec.early_stopping != "Off":
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
    tuned = spec.ranges.get(resource)
    if isinstance(tuned, IntegerRange | ContinuousRange) and tuned.max > max_resource:
        warnings.append(
            f"{resource} is tuned in [{tuned.min:g}, {tuned.max:g}] but Hyperband stops every job "
            f"after max_resource={max_resource} {resource} lines, so {resource} is never really "
            f"tuned. Fix: make {resource} static ({resource}: {tuned.max:g}) and set "
            f"strategy.max_resource: {tuned.max:g}; Hyperband then chooses how long each job runs"
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


def check_ranges(spec: TuningJobSpec) -> list[str]:
    """Ranges AMT itself refuses, whatever runs the job."""
    problems = []
    for name in set(spec.static_hyperparameters) & set(spec.ranges):
        problems.append(f"ranges.{name}: {name} is also a static hyperparameter: keep one")
    for name, r in spec.ranges.items():
        if isinstance(r, CategoricalRange):
            continue
        if r.min > r.max:
            problems.append(f"ranges.{name}: min={r.min:g} > max={r.max:g}: must be min <= max")
        if r.scaling in (Scaling.LOGARITHMIC, Scaling.REVERSE_LOGARITHMIC) and r.min <= 0:
            problems.append(
                f"ranges.{name}: scaling {r.scaling.value} needs min > 0, got {r.min:g}"
            )
    return problems


def check_against_image(spec: TuningJobSpec, image: ImageSpec) -> list[str]:
    """Ranges and static values the image itself would reject at run time."""
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
    for name, r in spec.ranges.items():
        where = f"ranges.{name}"
        if name not in declared:
            problems.append(f"{where}: the {image.name} image has no hyperparameter {name!r}")
            continue
        if isinstance(r, CategoricalRange):
            for value in r.values:
                problems += _image_rule(where, declared[name], value)
            continue
        for end in (r.min, r.max):
            problems += _image_rule(where, declared[name], _text(end))
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
    for name, r in spec.ranges.items():
        if isinstance(r, CategoricalRange) and len(r.values) > MAX_TUNED:
            problems.append(f"ranges.{name}: {len(r.values)} values: must be at most {MAX_TUNED}")
    if spec.limits.max_parallel_jobs > spec.limits.max_jobs:
        problems.append(
            f"limits.max_parallel_jobs: {spec.limits.max_parallel_jobs} is out of range: must be "
            f"max_parallel_jobs <= max_jobs={spec.limits.max_jobs}"
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
) -> Plan:
    """Check a spec every way we can offline; a SpecError lists every problem found.

    `region`: a script's sagemaker_region, left out when None.
    """
    try:
        image, image_uri = resolve_image(spec, registry, tag)
    except SpecError as error:
        raise SpecError(source, error.problems) from None
    script, problems = script_of(spec)
    problems += check_enums(spec) + check_ranges(spec)
    metrics: tuple[Metric, ...]
    if spec.entry_point is None:  # the image's own algorithm, rules and metrics
        problems += check_against_image(spec, image)
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
    hyperband_problems, warnings = check_hyperband(spec, resource, max_resource)
    problems += hyperband_problems + check_limits(spec, metrics) + check_objective(spec, metrics)
    request = build_request(spec, image_uri, metrics, max_resource, _static(spec, script, region))
    problems += check_with_botocore(request)
    if problems:
        raise SpecError(source, problems)
    layout: tuple[Bracket, ...] = ()
    if spec.strategy.type == "Hyperband" and max_resource and spec.strategy.min_resource:
        layout = brackets(spec.strategy.min_resource, max_resource)
    return Plan(
        spec, image, image_uri, request, metrics, max_resource, layout, tuple(warnings), script
    )
