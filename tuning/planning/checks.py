"""Every offline check of a spec that botocore cannot make, each naming the field, the value
and the rule, so that a bad spec fails in a second on the user's machine instead of as 30
failed training jobs: enums, ranges, the image's own rules, Hyperband, the strategies, the
limits, the objective, warm start, completion criteria and retries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from smtune.containers.catalogue import ImageSpec
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.metrics import MetricSpec
from smtune.tuning.amt.autotune import auto_parameter_problems
from smtune.tuning.amt.completion import CompletionCriteria
from smtune.tuning.amt.grid import grid_problems
from smtune.tuning.amt.ranges import Range
from smtune.tuning.amt.retry import RetryStrategy
from smtune.tuning.amt.strategy import Strategy
from smtune.tuning.amt.warm_start import WarmStartType
from smtune.tuning.metrics import MAX_NAME_LENGTH, Metric, reads_its_own_line
from smtune.tuning.plan import WarmStart
from smtune.tuning.planning.service_model import allowed, input_shape
from smtune.tuning.spec import TuningJobSpec

# Static hyperparameters AMT reads MaxResource from when the Hyperband config has none.
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
MAX_RESOURCE_LIMIT = 20_000  # AMT's upper bound on Hyperband's MaxResource

MAX_TUNED = 30  # AMT: hyperparameters tuned at once, all range types together


def as_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def max_resource_of(spec: TuningJobSpec) -> int | None:
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
        problems += _image_rule(f"static_hyperparameters.{name}", declared[name], as_text(value))
    for name, hint in spec.auto_parameters.items():
        where = f"auto_parameters.{name}"
        if name not in declared:
            problems.append(f"{where}: the {image.name} image has no hyperparameter {name!r}")
            continue
        problems += _image_rule(where, declared[name], as_text(hint))
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
        input_shape("TrainingJobDefinition", "AlgorithmSpecification")
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
    definitions: `submit` and `rehearse` check them (tuning.rehearsal.parent_journals)."""
    given = spec.warm_start
    if given is None:
        return None, []
    problems = []
    bounds = input_shape("WarmStartConfig").members["ParentHyperParameterTuningJobs"].metadata
    low, high = bounds["min"], bounds["max"]
    if not low <= len(given.parents) <= high:
        problems.append(
            f"warm_start.parents: {len(given.parents)} parents: must be {low} to {high}"
        )
    name = input_shape(
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


NOT_IMPROVING = "completion.max_jobs_not_improving"

TARGET = "completion.target_objective"


def completion_of(spec: TuningJobSpec) -> tuple[CompletionCriteria | None, list[str], list[str]]:
    """(criteria, problems, warnings) of the spec's `completion` block. A field with a
    problem is left out of the criteria returned, so that botocore does not list it twice."""
    given = spec.completion
    if given is None:
        return None, [], []
    target = given.target_objective
    criteria = CompletionCriteria(target, given.max_jobs_not_improving, given.convergence)
    problems: list[str] = []
    for where, alone, field in (
        (TARGET, CompletionCriteria(target_objective_metric_value=target), "target"),
        (
            NOT_IMPROVING,
            CompletionCriteria(
                max_number_of_training_jobs_not_improving=given.max_jobs_not_improving
            ),
            "limit",
        ),
    ):
        found = alone.problems()
        problems += [f"{where}: {problem}" for problem in found]
        if found and field == "target":
            criteria = replace(criteria, target_objective_metric_value=None)
        elif found:
            criteria = replace(criteria, max_number_of_training_jobs_not_improving=None)
    if target is None and given.max_jobs_not_improving is None and not given.convergence:
        problems.append(
            "completion: sets no criterion: give target_objective, max_jobs_not_improving or "
            "convergence: true, or leave the block out"
        )
    warnings = []
    limit, most = given.max_jobs_not_improving, spec.limits.max_jobs  # None: AMT's or a grid's
    if limit is not None and most is not None and not problems and limit >= most:
        warnings.append(
            f"{NOT_IMPROVING}={limit} can never be met: the first job always improves, so "
            f"at most limits.max_jobs - 1 = {most - 1} jobs in a row can fail to improve"
        )
    return criteria, problems, warnings


def retry_of(spec: TuningJobSpec) -> tuple[RetryStrategy | None, list[str]]:
    """(strategy, problems) of the spec's `retry` block; None where it has a problem, so that
    botocore does not list it twice."""
    if spec.retry is None:
        return None, []
    strategy = RetryStrategy(spec.retry.max_attempts)
    problems = [f"retry.max_attempts: {problem}" for problem in strategy.problems()]
    return (None if problems else strategy), problems
