"""A TuningJobSpec becomes a TuningPlan, checked offline, in one direction: parse the
spec's parts into typed values, check them (`planning.checks`, then botocore on the request
the plan makes), assemble the plan.

Where a problem leaves a part unknown, a valid stand-in takes its place while the rest is
assembled, so that one run lists every problem; a plan with stand-ins is never returned.
"""

from __future__ import annotations

import enum
import os
from dataclasses import replace
from typing import TypeVar

from smtune.containers.catalogue import IMAGES, ImageSpec
from smtune.containers.script import ScriptSpec
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt.autotune import autotune_warning
from smtune.tuning.amt.brackets import brackets
from smtune.tuning.amt.ranges import Range
from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.metrics import Metric
from smtune.tuning.plan import (
    UNSET_REGISTRY,
    Channel,
    HyperbandConfig,
    Instance,
    Objective,
    ResourceLimits,
    Spot,
    Strategy,
    TrainingDefinition,
    TuningPlan,
)
from smtune.tuning.planning import several
from smtune.tuning.planning.checks import (
    as_text,
    check_against_image,
    check_enums,
    check_hyperband,
    check_limits,
    check_objective,
    check_ranges,
    check_strategy,
    check_warm_start,
    completion_of,
    max_resource_of,
    retry_of,
)
from smtune.tuning.planning.script_fields import (
    check_script_hyperparameters,
    declared_metrics,
    script_of,
    source_uri,
)
from smtune.tuning.planning.script_fields import static_hyperparameters as script_static
from smtune.tuning.planning.service_model import check_with_botocore
from smtune.tuning.planning.several import effective_spec
from smtune.tuning.request import build_request
from smtune.tuning.spec import SpecError, TuningJobSpec

E = TypeVar("E", bound=enum.Enum)
# What a script's objective line stands for: AMT reads a script's MaxResource from a static
# `epochs` (EPOCH_HYPERPARAMETERS), so a script is taken to print one line per epoch.
SCRIPT_RESOURCE = "epochs"


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


def _static(spec: TuningJobSpec, script: ScriptSpec | None, region: str | None) -> dict[str, str]:
    """StaticHyperParameters: as written for an image; a script's as SDK v2 sends them."""
    if script is None:
        return {k: as_text(v) for k, v in spec.static_hyperparameters.items()}
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
        outcomes = [
            _outcome(effective_spec(spec, d), registry, tag, source, region)
            for d in spec.definitions
        ]
        joined = several.join(spec, outcomes, source)
        problems = check_with_botocore(build_request(joined))
        if problems:
            raise SpecError(source, problems)
        return joined
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
                {k: as_text(v) for k, v in spec.static_hyperparameters.items()}
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
    max_resource = max_resource_of(spec)
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


def _outcome(
    spec: TuningJobSpec, registry: str | None, tag: str, source: str, region: str | None
) -> TuningPlan | SpecError:
    try:
        return plan(spec, registry, tag, source, region)
    except SpecError as error:
        return error


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
        auto_parameters={k: as_text(v) for k, v in spec.auto_parameters.items()},
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
