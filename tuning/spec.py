"""TuningJobSpec: the typed, validated model of a tuning-job YAML file.

One file says everything a SageMaker AMT tuning job needs. Loading it checks structure and
types (pydantic names the field path of each problem); `tuning.planning.planner.plan` then checks it
against the SageMaker service model and the image's own rules, and turns it into a typed
`tuning.plan.TuningPlan`, from which everything else is derived: nothing reads a spec after.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from smtune.containers.errors import Problems
from smtune.containers.script import Distribution
from smtune.entrypoints.contract.config import channel_name_problem
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning import yaml_files
from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange, Scaling, bound_problems

S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"
MAX_VALUES = 30  # AMT: values of one categorical range


class SpecError(Problems):
    """A spec that cannot become a tuning job; `problems` lists every reason found."""

    kind = "tuning job"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# A range as written; `problems` lists AMT's rules it breaks, and a range without any becomes
# its typed value (tuning.amt.ranges) once, when the spec is planned.


class IntegerRange(Strict):
    type: Literal["integer"]
    min: int
    max: int
    scaling: Scaling = Scaling.AUTO

    def problems(self) -> list[str]:
        return bound_problems(self.min, self.max, self.scaling)

    def to_range(self) -> IntRange:
        return IntRange(self.min, self.max, self.scaling)


class ContinuousRange(Strict):
    type: Literal["continuous"]
    min: float
    max: float
    scaling: Scaling = Scaling.AUTO

    def problems(self) -> list[str]:
        return bound_problems(self.min, self.max, self.scaling)

    def to_range(self) -> FloatRange:
        return FloatRange(float(self.min), float(self.max), self.scaling)


class CategoricalRange(Strict):
    type: Literal["categorical"]
    values: list[str] = Field(min_length=1)

    def problems(self) -> list[str]:
        if len(self.values) > MAX_VALUES:
            return [f"{len(self.values)} values: must be at most {MAX_VALUES}"]
        return []

    def to_range(self) -> Choice:
        return Choice(tuple(self.values))


Range = Annotated[IntegerRange | ContinuousRange | CategoricalRange, Field(discriminator="type")]


class InstanceSpec(Strict):
    type: str
    count: int = Field(ge=1)
    volume_gb: int = Field(default=30, ge=1)


class ObjectiveSpec(Strict):
    metric: str
    type: Literal["Maximize", "Minimize"] | None = None  # None: the MetricSpec's direction


class StrategySpec(Strict):
    type: str = "Hyperband"
    min_resource: int | None = None
    max_resource: int | None = None


class Limits(Strict):
    # None: AMT's to set; `plan` takes it from a Grid (its combinations) or Autotune only.
    max_jobs: int | None = Field(default=None, ge=1)
    max_parallel_jobs: int = Field(ge=1)
    max_runtime_seconds: int = Field(default=86_400, ge=1)


class ChannelSpec(Strict):
    s3_uri: str = Field(pattern=S3_URI)
    distribution: str = "FullyReplicated"
    content_type: str | None = "text/csv"


def _channel_name(name: str) -> str:
    # The name becomes a folder of every host's tree (/opt/ml/input/data/NAME).
    problem = channel_name_problem(name)
    if problem:
        raise PydanticCustomError("channel_name", problem)
    return name


ChannelName = Annotated[str, AfterValidator(_channel_name)]


class ScriptDistribution(Strict):
    """How each host launches a script (SDK v2's `distribution`)."""

    type: Distribution = Distribution.NONE
    processes_per_host: int | None = None


class KeyedMetric(Strict):
    """A metric the script prints as the images do (`[3]<TAB>validation-accuracy:0.97`, e.g.
    through entrypoints.toolkit): the regex comes from the contract's MetricSpec."""

    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    direction: Direction


class RegexMetric(Strict):
    """A metric with its own regex, checked on `sample`, a line the script prints."""

    name: str = Field(min_length=1)
    regex: str = Field(min_length=1)
    sample: str | None = None  # required: `plan` says why when it is missing
    direction: Direction | None = None  # None: objective.type says it


def _metric_kind(data: Any) -> str:
    if isinstance(data, dict):
        return "regex" if "regex" in data else "key"
    return "regex" if isinstance(data, RegexMetric) else "key"


MetricDeclaration = Annotated[
    Annotated[KeyedMetric, Tag("key")] | Annotated[RegexMetric, Tag("regex")],
    Discriminator(_metric_kind),
]


class SpotSpec(Strict):
    enabled: bool = False
    max_wait_seconds: int | None = Field(default=None, ge=1)


class Completion(Strict):
    """TuningJobCompletionCriteria: AMT ends the tuning job at the first criterion met.
    Types are strict (a quoted "0.8" is text, not a target); `plan` checks the rest."""

    target_objective: StrictFloat | None = None  # an integer is a number too
    max_jobs_not_improving: StrictInt | None = None
    convergence: StrictBool = False


class Retry(Strict):
    """RetryStrategy: how often AMT retries a job that failed for an internal error."""

    max_attempts: StrictInt


class InstanceOverride(Strict):
    """A definition's instance: what it changes of the spec's `instance`."""

    type: str | None = None
    count: int | None = Field(default=None, ge=1)
    volume_gb: int | None = Field(default=None, ge=1)


class DefinitionSpec(Strict):
    """One of several training job definitions (AMT's TrainingJobDefinitions): the spec's
    training fields, with what this definition changes (see `tuning.planning.several`)."""

    name: str  # AMT's DefinitionName: `plan` checks it (botocore's pattern, unique)
    image: str | None = None  # None: the spec's
    instance: InstanceOverride = Field(default_factory=InstanceOverride)
    # Added to the spec's; a name tuned at the top level becomes static here.
    static_hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # Added to the spec's; a name static at the top level becomes tuned here.
    ranges: dict[str, Range] = Field(default_factory=dict)
    metrics: list[MetricDeclaration] | None = None  # a script's; None: the spec's


class WarmStartSpec(Strict):
    """AMT's WarmStartConfig: earlier tuning jobs, by name, this one starts from.

    `type` is IdenticalDataAndAlgorithm or TransferLearning (`plan` checks it, and the
    parents' count and names; `submit` and `rehearse` check the rules that need the parents).
    """

    type: str
    parents: list[str]


class TuningJobSpec(Strict):
    """A tuning job, as written in its YAML file.

    With `entry_point` and `source_dir` the image runs that script instead of its own
    algorithm (SageMaker's script mode): its hyperparameters are its own and its `metrics`
    are declared here; see `tuning.planning.script_fields`.
    """

    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
    image: str
    role: str = Field(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
    instance: InstanceSpec
    static_hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    ranges: dict[str, Range] = Field(min_length=1)
    objective: ObjectiveSpec
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    limits: Limits
    early_stopping: str | None = None  # None: Off, or with autotune AMT's choice
    random_seed: int | None = Field(default=None, ge=0)
    channels: dict[ChannelName, ChannelSpec] = Field(min_length=1)
    output_path: str = Field(pattern=S3_URI)
    checkpoint_s3_uri: str | None = Field(default=None, pattern=S3_URI)
    spot: SpotSpec = Field(default_factory=SpotSpec)
    tags: dict[str, str] = Field(default_factory=dict)
    # Script mode: the image runs this script instead of its own algorithm.
    entry_point: str | None = None
    source_dir: str | None = None  # relative to the spec file (`read` makes it absolute)
    code_location: str | None = Field(default=None, pattern=S3_URI)  # default: output_path
    distribution: ScriptDistribution = Field(default_factory=ScriptDistribution)
    metrics: list[MetricDeclaration] = Field(default_factory=list)
    completion: Completion | None = None  # TuningJobCompletionCriteria (tuning.amt.completion)
    retry: Retry | None = (
        None  # the training definition's RetryStrategy (tuning.rehearsal.failures)
    )
    # Several training job definitions; None: one, from the fields above.
    definitions: list[DefinitionSpec] | None = None
    warm_start: WarmStartSpec | None = None
    # AMT's Autotune: AMT chooses what the spec leaves out (`tuning.amt.autotune`), and
    # a range for each auto parameter, from its example value.
    autotune: bool = False
    auto_parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _spot_needs_a_wait(self) -> TuningJobSpec:
        if self.spot.enabled and self.spot.max_wait_seconds is None:
            raise ValueError("spot.max_wait_seconds is required when spot.enabled is true")
        return self


def _field_path(location: tuple[Any, ...]) -> str:
    # pydantic puts the discriminator's value in the path of a range: leave it out. A bad
    # key is reported at its mapping (the message names the key).
    if location[-1:] == ("[key]",):
        location = location[:-2]
    tags = ("integer", "continuous", "categorical")
    if location[:1] == ("metrics",) and len(location) > 2:  # its kind: key or regex
        location = location[:2] + location[3:]
    return ".".join(str(part) for part in location if part not in tags)


def parse(data: Any, source: str = "spec") -> TuningJobSpec:
    """A spec from plain data (a parsed YAML document), or a SpecError naming each field."""
    try:
        return TuningJobSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(source, [_problem(e) for e in error.errors()]) from None


def _problem(error: Any) -> str:
    where = _field_path(error["loc"]) or "(top level)"
    shown = error["type"] != "missing" and not isinstance(error["input"], dict)
    return f"{where}: {error['msg']}" + (f" (got {error['input']!r})" if shown else "")


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
_ANY_VARIABLE = re.compile(r"\$\{[^}]*\}")
# Where a variable belongs: the account, bucket and registry a spec is shared across. Any
# other field is sent (tags, hyperparameters) or printed by `plan` as written, so a `${...}`
# there could copy any environment variable, a secret too, into the request.
VARIABLE_FIELDS = (
    "role",
    "image",
    "channels.*.s3_uri",
    "output_path",
    "checkpoint_s3_uri",
    "code_location",
    "definitions.*.image",
)


def _substitute(text: str, read: set[str], unset: list[str]) -> str:
    """`expand`, noting the variables taken from the environment and those left unset."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            read.add(name)
            return os.environ[name]
        if default is None:
            unset.append(name)
            return match.group(0)
        return default

    return _VARIABLE.sub(value, text)


def _expand_fields(node: Any, path: tuple[str, ...], read: set[str], problems: list[str]) -> Any:
    """`node` with variables expanded where they belong; every other `${...}` is a problem."""
    where = ".".join(path)
    if isinstance(node, dict):
        for key in node:
            if isinstance(key, str) and _ANY_VARIABLE.search(key):
                problems.append(
                    f"{where or '(top level)'}: key {key!r} holds a variable: " + _only_in()
                )
        return {k: _expand_fields(v, (*path, str(k)), read, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_fields(v, (*path, str(i)), read, problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or not _ANY_VARIABLE.search(node):
        return node
    if not any(fnmatchcase(where, field) for field in VARIABLE_FIELDS):
        found = ", ".join(_ANY_VARIABLE.findall(node))
        problems.append(f"{where}: {found} is not expanded here: {_only_in()}")
        return node
    unset: list[str] = []
    expanded = _substitute(node, read, unset)
    problems.extend(
        f"{where}: ${{{name}}} is not set in the environment and has no default: set it, "
        f"or write ${{{name}:-value}}"
        for name in unset
    )
    return expanded


def _only_in() -> str:
    return f"variables are expanded only in {', '.join(VARIABLE_FIELDS)}"


@dataclass(frozen=True)
class Loaded:
    """A spec and the environment variables its file read (for `plan` to name them)."""

    spec: TuningJobSpec
    variables: tuple[str, ...]


def read_data(path: Path) -> tuple[Any, tuple[str, ...]]:
    """A YAML spec's plain data, with `${VAR}` or `${VAR:-default}` from the environment in
    the VARIABLE_FIELDS only, after parsing (a value never becomes YAML); and the variables
    read. A SpecError lists every problem, the data is left unvalidated (see `parse`)."""
    data, names, problems = _read(path)
    if problems:
        raise SpecError(str(path), problems)
    return data, names


def _read(path: Path) -> tuple[Any, tuple[str, ...], list[str]]:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise SpecError(str(path), [f"cannot be read: {error.strerror}"]) from None
    try:
        data = yaml_files.parse(text)
    except yaml_files.YamlError as error:
        raise SpecError(str(path), [str(error)]) from None
    read_names: set[str] = set()
    problems: list[str] = []
    data = _expand_fields(data, (), read_names, problems)
    return data, tuple(sorted(read_names)), problems


def read(path: Path) -> Loaded:
    """Read and validate a YAML spec (variables as `read_data` expands them)."""
    data, names, problems = _read(path)
    try:
        spec = parse(data, str(path))
    except SpecError as error:
        # A field whose variable is the problem needs no second word on its pattern.
        flagged = {problem.split(": ", 1)[0] for problem in problems}
        others = [p for p in error.problems if p.split(": ", 1)[0] not in flagged]
        raise SpecError(str(path), problems + others) from None
    if problems:
        raise SpecError(str(path), problems)
    if spec.source_dir is not None:  # relative to the spec file, wherever plan runs
        source = (Path(path).parent / spec.source_dir).resolve()
        spec = spec.model_copy(update={"source_dir": str(source)})
    return Loaded(spec, names)


def load(path: Path) -> TuningJobSpec:
    """Read a YAML spec (see `read`)."""
    return read(path).spec
