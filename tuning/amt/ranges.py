"""AMT's hyperparameter ranges as typed values: their API form, their SDK form, their sampling.

AMT's ScalingType: Linear samples uniformly; Logarithmic uniformly in log(x) (min > 0);
ReverseLogarithmic uniformly in log(1 - x), dense near 1 (0 <= min <= max < 1); Auto is AMT's
own choice, which it does not publish: here Auto is Linear.

Why the ranges live here, in the pure package, rather than the scheduler sampling through a
Protocol: a range is one value with three renderings (the entry of AMT's
Integer/Continuous/CategoricalParameterRanges, the SageMaker SDK's parameter object, and a
draw for the scheduler), and its rules (bounds, scaling) hold for all three. Kept in one type,
a rule or a scaling type is added once; split across a Protocol here and a type in `tuning`,
the scheduler's tests would need a second set of range types. None of the three renderings
costs this package its purity: the API form is plain data, and the SDK form is built from the
SDK's parameter module that the caller passes in (nothing here imports the SDK or does I/O).
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

N = TypeVar("N", int, float)


class Scaling(enum.Enum):
    """AMT's ScalingType."""

    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


def bound_problems(low: float, high: float, scaling: Scaling) -> list[str]:
    """Why [low, high] with `scaling` is no range AMT samples from; empty when it is one."""
    problems = []
    if low > high:
        problems.append(f"min={low:g} > max={high:g}: must be min <= max")
    if scaling is Scaling.LOGARITHMIC and low <= 0:
        problems.append(f"scaling {scaling.value} needs min > 0, got {low:g}")
    if scaling is Scaling.REVERSE_LOGARITHMIC and (low < 0 or high >= 1):
        problems.append(
            f"scaling {scaling.value} needs 0 <= min <= max < 1, got [{low:g}, {high:g}]"
        )
    return problems


def _refuse(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class _Form:
    """How AMT and the SDK name a kind of range, and how a spec writes its type."""

    api_kind: str  # its list in ParameterRanges
    sdk_class: str  # its class in the SDK's parameter module
    kind: str


@dataclass(frozen=True)
class _Bounded(Generic[N]):
    """What integer and continuous ranges share: two ends and a scaling."""

    low: N
    high: N
    scaling: Scaling = Scaling.AUTO
    form: ClassVar[_Form]

    def __post_init__(self) -> None:
        _refuse(bound_problems(self.low, self.high, self.scaling))

    @property
    def api_kind(self) -> str:
        return self.form.api_kind

    def api_entry(self, name: str) -> dict[str, Any]:
        return {
            "Name": name,
            "MinValue": str(self.low),
            "MaxValue": str(self.high),
            "ScalingType": self.scaling.value,
        }

    def sdk_parameter(self, parameters: Any) -> Any:
        """The SDK's parameter object; `parameters` is the SDK's parameter module."""
        kind = getattr(parameters, self.form.sdk_class)
        return kind(self.low, self.high, scaling_type=self.scaling.value)

    @property
    def bounds(self) -> tuple[float, float] | None:
        return self.low, self.high

    @property
    def edge_values(self) -> tuple[str, ...]:
        """Values a rule on the hyperparameter must accept: here, both ends as sent."""
        return str(self.low), str(self.high)

    def describe(self) -> str:
        return f"{self.form.kind} [{self.low:g}, {self.high:g}] {self.scaling.value}"


class FloatRange(_Bounded[float]):
    """A ContinuousParameterRange."""

    form = _Form("ContinuousParameterRanges", "ContinuousParameter", "continuous")

    def sample(self, rng: random.Random) -> float:
        return _scaled(rng.random(), self.low, self.high, self.scaling)


class IntRange(_Bounded[int]):
    """An IntegerParameterRange."""

    form = _Form("IntegerParameterRanges", "IntegerParameter", "integer")

    def sample(self, rng: random.Random) -> int:
        if self.scaling in (Scaling.AUTO, Scaling.LINEAR):
            # Widen by half a step before rounding: the ends are as likely as any integer.
            value = _scaled(rng.random(), self.low - 0.499, self.high + 0.499, Scaling.LINEAR)
        else:
            value = _scaled(rng.random(), self.low, self.high, self.scaling)
        return min(self.high, max(self.low, round(value)))


@dataclass(frozen=True)
class Choice:
    """A CategoricalParameterRange."""

    values: tuple[str, ...]
    api_kind: ClassVar[str] = "CategoricalParameterRanges"

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a categorical range needs at least one value")

    def sample(self, rng: random.Random) -> str:
        return self.values[rng.randrange(len(self.values))]

    def api_entry(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": list(self.values)}

    def sdk_parameter(self, parameters: Any) -> Any:
        """The SDK's CategoricalParameter; `parameters` is the SDK's parameter module."""
        return parameters.CategoricalParameter(list(self.values))

    @property
    def bounds(self) -> tuple[float, float] | None:
        return None  # values without an order

    @property
    def edge_values(self) -> tuple[str, ...]:
        """Values a rule on the hyperparameter must accept: here, every one."""
        return self.values

    def describe(self) -> str:
        return f"one of {', '.join(self.values)}"


Range = FloatRange | IntRange | Choice


def api_ranges(space: Mapping[str, Range]) -> dict[str, list[dict[str, Any]]]:
    """AMT's ParameterRanges: each range's entry under its kind, in the order given."""
    ranges: dict[str, list[dict[str, Any]]] = {}
    for name, r in space.items():
        ranges.setdefault(r.api_kind, []).append(r.api_entry(name))
    return ranges


def _scaled(u: float, low: float, high: float, scaling: Scaling) -> float:
    if scaling is Scaling.LOGARITHMIC:
        return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    if scaling is Scaling.REVERSE_LOGARITHMIC:
        return 1 - math.exp(math.log(1 - high) + u * (math.log(1 - low) - math.log(1 - high)))
    return low + u * (high - low)


def sample(space: Mapping[str, Range], rng: random.Random) -> dict[str, float | int | str]:
    """One configuration; names in sorted order, so the draw does not depend on dict order."""
    return {name: space[name].sample(rng) for name in sorted(space)}


def described_ranges(ranges: dict[str, Any]) -> dict[str, Range]:
    """The typed ranges of a described ParameterRanges (the inverse of `api_ranges`; a
    rehearsal's journal keeps its ranges in the same form, `tuning.rehearsal.parent_journals`)."""
    found: dict[str, Range] = {}
    for entry in ranges.get("IntegerParameterRanges", []):
        scaling = Scaling(entry.get("ScalingType", "Auto"))
        found[entry["Name"]] = IntRange(int(entry["MinValue"]), int(entry["MaxValue"]), scaling)
    for entry in ranges.get("ContinuousParameterRanges", []):
        scaling = Scaling(entry.get("ScalingType", "Auto"))
        found[entry["Name"]] = FloatRange(
            float(entry["MinValue"]), float(entry["MaxValue"]), scaling
        )
    for entry in ranges.get("CategoricalParameterRanges", []):
        found[entry["Name"]] = Choice(tuple(entry["Values"]))
    return found
