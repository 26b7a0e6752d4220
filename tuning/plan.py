"""TuningPlan: a checked tuning job, typed; the one model the request, the SDK tuners and the
rehearsal are each derived from.

`tuning.planning.planner.plan` makes one from a spec; `tuning.request.build_request` renders it as
the CreateHyperParameterTuningJob request, which nothing reads back. AMT's vocabulary is kept
(strategies, ResourceLimits, a training job definition) so that each part maps to one block
of the request and of the SDKs' tuners.

A plan holds its training job definitions as a tuple: AMT's TrainingJobDefinitions lets one
tuning job run several (each with its own name, instances, static hyperparameters and
ranges). A spec without `definitions` plans one, unnamed, sent as TrainingJobDefinition;
`definition` is that one, for readers that handle one only, and refuses a plan with several
(`tuning.planning.several` plans several, sent as TrainingJobDefinitions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from smtune.containers.catalogue import ImageSpec
from smtune.containers.errors import BadInput
from smtune.containers.script import ScriptSpec
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt.brackets import Bracket
from smtune.tuning.amt.completion import CompletionCriteria
from smtune.tuning.amt.grid import grid_size
from smtune.tuning.amt.ranges import Range
from smtune.tuning.amt.retry import RetryStrategy
from smtune.tuning.amt.strategy import EarlyStopping, Strategy  # the one of each, re-exported
from smtune.tuning.amt.warm_start import TuningShape, WarmStartType
from smtune.tuning.metrics import Metric

#: Stands for the registry in a catalogue image's URI when none is known: `plan` shows it,
#: `submit` refuses it. "<" is in no image reference, so no real URI starts with it.
UNSET_REGISTRY = "<REGISTRY>"


@dataclass(frozen=True)
class HyperbandConfig:
    """AMT's HyperbandStrategyConfig, both resources known (MaxResource possibly inferred
    from an epochs-like static hyperparameter, as AMT infers it)."""

    min_resource: int
    max_resource: int


@dataclass(frozen=True)
class Objective:
    """The metric the tuning job optimizes, by name, and which way.

    The name, not a Metric: each definition has its own MetricDefinitions, and reads the
    objective with its own regex (`TrainingDefinition.metric`); AMT requires only that every
    definition define a metric of that name.
    """

    metric: str
    direction: Direction


@dataclass(frozen=True)
class ResourceLimits:
    """AMT's ResourceLimits. `max_jobs` None: left out of the request, for AMT to set (a
    Grid search runs every combination once; an autotuned job's limit is AMT's choice)."""

    max_jobs: int | None
    max_parallel_jobs: int


@dataclass(frozen=True)
class Instance:
    type: str
    count: int
    volume_gb: int


@dataclass(frozen=True)
class Channel:
    """An input channel: an S3 prefix, how it is spread over the hosts, its content type."""

    name: str
    s3_uri: str
    distribution: S3DistributionType
    content_type: str | None


@dataclass(frozen=True)
class Spot:
    """Managed spot training: a job may wait this long in all, interruptions included."""

    max_wait_s: int


@dataclass(frozen=True)
class TrainingDefinition:
    """One training job definition: what each training job of the tuning job runs, on what.

    Args:
        image: The catalogue image: its metric, hyperparameter and resource rules.
        image_uri: Where the image is pulled from; `UNSET_REGISTRY/...` when its registry
            is unknown (`placeholder_image`).
        role: The IAM role the training jobs run as.
        instance: Instance type, count and volume of every training job.
        static_hyperparameters: As sent: text, a script's JSON-encoded.
        ranges: The tuned hyperparameters, in the spec's order.
        metrics: The MetricDefinitions, each with the regex that reads it.
        channels: The input channels.
        output_path: S3OutputPath.
        checkpoint_uri: CheckpointConfig's S3Uri; None: no checkpoints.
        spot: Managed spot training; None: on-demand.
        max_runtime_s: Each job's MaxRuntimeInSeconds.
        resource: What one objective line stands for (the hyperparameter that counts them).
        script: Script mode: the user's script the image runs; None: the image's own code.
        source_uri: Where a script's folder is uploaded (its sagemaker_submit_directory).
        name: AMT's DefinitionName; None for a tuning job's only definition.
        retry: RetryStrategy: how often a job that failed for an internal error is retried;
            None: never.
        auto_parameters: Autotune's AutoParameters: name -> example value, as sent; AMT
            chooses their ranges.
    """

    image: ImageSpec
    image_uri: str
    role: str
    instance: Instance
    static_hyperparameters: Mapping[str, str]
    ranges: Mapping[str, Range]
    metrics: tuple[Metric, ...]
    channels: tuple[Channel, ...]
    output_path: str
    checkpoint_uri: str | None
    spot: Spot | None
    max_runtime_s: int
    resource: str
    script: ScriptSpec | None = None
    source_uri: str | None = None
    name: str | None = None
    retry: RetryStrategy | None = None
    auto_parameters: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.script is None) != (self.source_uri is None):
            raise ValueError(
                f"script={self.script} and source_uri={self.source_uri}: a script needs the "
                "URI its folder is uploaded to, and only a script has one"
            )

    @property
    def placeholder_image(self) -> bool:
        """The image's registry is unknown: the URI can be shown, not sent."""
        return self.image_uri.startswith(f"{UNSET_REGISTRY}/")

    def metric(self, name: str) -> Metric:
        """The metric of that name, with the regex this definition reads it with."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"{name!r} is not a metric of this definition")


@dataclass(frozen=True)
class WarmStart:
    """AMT's WarmStartConfig: the parent tuning jobs, by name, and how they relate."""

    type: WarmStartType
    parents: tuple[str, ...]


@dataclass(frozen=True)
class TuningPlan:
    """A checked tuning job: everything the request, the SDK tuners and a rehearsal need.

    Args:
        name: The tuning job's name.
        strategy: AMT's search strategy.
        hyperband: Hyperband's resources: present exactly when the strategy is Hyperband.
        objective: The metric optimized, and which way.
        limits: How many training jobs, and how many at once.
        early_stopping: AMT's early stopping (Off with Hyperband, which stops jobs itself);
            None: left out of the request, for Autotune to choose.
        random_seed: AMT's RandomSeed; None: AMT chooses.
        tags: The tuning job's tags.
        definitions: The training job definitions (see the module's docstring).
        brackets: Hyperband's brackets over [MinResource, MaxResource], for people to read.
        warnings: What a person should know before sending it.
        completion: TuningJobCompletionCriteria; None: the job runs to its limits.
        warm_start: The earlier tuning jobs this one starts from; None: a cold start.
        autotune: AMT's Autotune: AMT chooses what the request leaves out (`tuning.amt.autotune`).
    """

    name: str
    strategy: Strategy
    hyperband: HyperbandConfig | None
    objective: Objective
    limits: ResourceLimits
    early_stopping: EarlyStopping | None
    random_seed: int | None
    tags: Mapping[str, str]
    definitions: tuple[TrainingDefinition, ...]
    brackets: tuple[Bracket, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    completion: CompletionCriteria | None = None
    warm_start: WarmStart | None = None
    autotune: bool = False

    def __post_init__(self) -> None:
        unset = [
            name
            for name, value in (
                ("early_stopping", self.early_stopping),
                ("limits.max_jobs", self.limits.max_jobs),
            )
            if value is None and not (self.autotune or self._grid_limit(name))
        ]
        if unset:
            raise ValueError(
                f"{', '.join(unset)} unset with strategy={self.strategy.value}: only Autotune "
                "leaves them to AMT (and a Grid search its number of jobs)"
            )
        if (self.strategy is Strategy.HYPERBAND) != (self.hyperband is not None):
            raise ValueError(
                f"strategy={self.strategy.value} with hyperband={self.hyperband}: a Hyperband "
                "config goes with the Hyperband strategy, and only with it"
            )
        names = [d.name for d in self.definitions]
        if not names or (len(names) > 1 and (None in names or len(set(names)) < len(names))):
            raise ValueError(
                f"training job definitions named {names}: a plan has one, or several, each "
                "with a name of its own"
            )

    @property
    def definition(self) -> TrainingDefinition:
        """The tuning job's only training job definition, for readers that handle one."""
        if len(self.definitions) > 1:
            raise ValueError(
                f"{self.name} has {len(self.definitions)} training job definitions: this "
                "reader handles one only"
            )
        return self.definitions[0]

    @property
    def objective_metric(self) -> Metric:
        """The objective as the definition reads it from a job's log."""
        return self.definition.metric(self.objective.metric)

    def _grid_limit(self, name: str) -> bool:
        return name == "limits.max_jobs" and self.strategy is Strategy.GRID

    @property
    def max_jobs(self) -> int | None:
        """How many training jobs run at most: the limit, or a Grid's number of combinations;
        None where AMT alone knows (Autotune without a limit)."""
        if self.limits.max_jobs is not None:
            return self.limits.max_jobs
        if self.strategy is Strategy.GRID:
            return grid_size(self.definitions[0].ranges)  # the rehearsal refuses several
        return None

    @property
    def worst_case_instance_seconds(self) -> int | None:
        """Billable instance-seconds if no job stopped early and each ran to its time limit;
        with several definitions, as if every job ran on the costliest (AMT does not say how
        it shares the jobs among them); None when AMT chooses the number of jobs."""
        if self.max_jobs is None:
            return None
        return self.max_jobs * max(d.instance.count * d.max_runtime_s for d in self.definitions)


class ImageNotResolved(BadInput):
    """A plan whose image URI is a placeholder cannot be sent."""


def require_images(plan: TuningPlan) -> None:
    """Refuse a plan whose images are placeholders: what `submit` and the SDK tuners send
    must name real images."""
    for definition in plan.definitions:
        if definition.placeholder_image:
            raise ImageNotResolved(
                f"image: {definition.image_uri!r} is a placeholder: {plan.name} was planned "
                f"without a registry for the catalogue image {definition.image.name!r}: set "
                "REGISTRY (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com), pass --registry, "
                "or write the image's full URI in the spec"
            )


def shape_of(plan: TuningPlan, channels: Mapping[str, str]) -> TuningShape:
    """What warm start compares of `plan`; `channels`: each channel's source (an S3 URI, or a
    local folder in a rehearsal)."""
    definition = plan.definition
    return TuningShape(
        name=plan.name,
        objective_metric=plan.objective.metric,
        maximize=plan.objective.direction is Direction.MAXIMIZE,
        static=dict(definition.static_hyperparameters),
        tunable=dict(definition.ranges),
        image=definition.image_uri,
        channels=dict(channels),
    )


def the_only(definitions: Sequence[TrainingDefinition]) -> bool:
    """Whether the request sends one unnamed TrainingJobDefinition (a spec without
    `definitions`), rather than TrainingJobDefinitions."""
    return len(definitions) == 1 and definitions[0].name is None
