"""TuningJobSpec: the typed, validated model of a tuning-job YAML file.

One file says everything a SageMaker AMT tuning job needs. Loading it checks structure and
types (pydantic names the field path of each problem); `tuning.request` then checks it
against the SageMaker service model and the image's own rules, and turns it into the
CreateHyperParameterTuningJob request.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"


class SpecError(ValueError):
    """A spec that cannot become a tuning job; `problems` lists every reason found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source} is not a valid tuning job:\n{listed}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scaling(enum.Enum):
    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


class IntegerRange(Strict):
    type: Literal["integer"]
    min: int
    max: int
    scaling: Scaling = Scaling.AUTO


class ContinuousRange(Strict):
    type: Literal["continuous"]
    min: float
    max: float
    scaling: Scaling = Scaling.AUTO


class CategoricalRange(Strict):
    type: Literal["categorical"]
    values: list[str] = Field(min_length=1)


Range = Annotated[IntegerRange | ContinuousRange | CategoricalRange, Field(discriminator="type")]


class Instance(Strict):
    type: str
    count: int = Field(ge=1)
    volume_gb: int = Field(default=30, ge=1)


class Objective(Strict):
    metric: str
    type: Literal["Maximize", "Minimize"] | None = None  # None: the MetricSpec's direction


class Strategy(Strict):
    type: str = "Hyperband"
    min_resource: int | None = None
    max_resource: int | None = None


class Limits(Strict):
    max_jobs: int = Field(ge=1)
    max_parallel_jobs: int = Field(ge=1)
    max_runtime_seconds: int = Field(default=86_400, ge=1)


class Channel(Strict):
    s3_uri: str = Field(pattern=S3_URI)
    distribution: str = "FullyReplicated"
    content_type: str | None = "text/csv"


class Spot(Strict):
    enabled: bool = False
    max_wait_seconds: int | None = Field(default=None, ge=1)


class TuningJobSpec(Strict):
    """A tuning job, as written in its YAML file."""

    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
    image: str
    role: str = Field(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
    instance: Instance
    static_hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    ranges: dict[str, Range] = Field(min_length=1)
    objective: Objective
    strategy: Strategy = Field(default_factory=Strategy)
    limits: Limits
    early_stopping: str = "Off"
    random_seed: int | None = Field(default=None, ge=0)
    channels: dict[str, Channel] = Field(min_length=1)
    output_path: str = Field(pattern=S3_URI)
    checkpoint_s3_uri: str | None = Field(default=None, pattern=S3_URI)
    spot: Spot = Field(default_factory=Spot)
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _spot_needs_a_wait(self) -> TuningJobSpec:
        if self.spot.enabled and self.spot.max_wait_seconds is None:
            raise ValueError("spot.max_wait_seconds is required when spot.enabled is true")
        return self


def _field_path(location: tuple[Any, ...]) -> str:
    # pydantic puts the discriminator's value in the path of a range: leave it out.
    tags = ("integer", "continuous", "categorical")
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


def expand(text: str) -> str:
    """`${VAR}` and `${VAR:-default}` from the environment; unknown ones stay as written."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        return os.environ.get(name, default if default is not None else match.group(0))

    return _VARIABLE.sub(value, text)


def load(path: Path) -> TuningJobSpec:
    """Read a YAML spec; `${VAR}` or `${VAR:-default}` in it come from the environment."""
    import yaml

    try:
        text = expand(Path(path).read_text())
    except OSError as error:
        raise SpecError(str(path), [f"cannot be read: {error.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(str(path), [f"is not valid YAML: {error}"]) from None
    return parse(data, str(path))
