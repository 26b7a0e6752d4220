"""Declared hyperparameters: parse SageMaker's strings into typed values, with clear errors.

SageMaker writes every hyperparameter value as a string. An algorithm declares what it
accepts once (name, type, range, default); `HyperparameterSchema.parse` turns the raw
strings into a dict of typed values or raises a UserError that names the field, the value
and the rule, e.g. "eta=1.7 is out of range: must be 0 <= eta <= 1".
"""

from __future__ import annotations

import difflib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smtune.entrypoints.contract.errors import UserError


@dataclass(frozen=True)
class Interval:
    """A numeric range with open or closed ends; None means unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def describe(self, name: str) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{_number(self.low)} {'<' if self.low_open else '<='}")
        parts.append(name)
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
        return " ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass(frozen=True)
class Hyperparameter(ABC):
    """One declared hyperparameter."""

    name: str
    required: bool = False
    default: Any = None

    def parse(self, raw: str) -> Any:
        value = self._convert(raw.strip())
        self._check(value)
        return value

    @abstractmethod
    def _convert(self, raw: str) -> Any: ...

    def _check(self, value: Any) -> None:
        """Raise a UserError when a converted value breaks the rule."""

    def _error(self, raw: str, rule: str) -> UserError:
        return UserError(f"{self.name}={raw!r} {rule}")


@dataclass(frozen=True)
class Integer(Hyperparameter):
    interval: Interval = field(default_factory=Interval)

    def _convert(self, raw: str) -> int:
        try:
            number = float(raw)
        except ValueError:
            raise self._error(raw, "is not an integer") from None
        # SageMaker's tuner writes integers it sampled as "100"; users write "1e3" or "100.0".
        if not number.is_integer():
            raise self._error(raw, "is not an integer")
        return int(number)

    def _check(self, value: int) -> None:
        if not self.interval.contains(value):
            raise UserError(
                f"{self.name}={value} is out of range: must be {self.interval.describe(self.name)}"
            )


@dataclass(frozen=True)
class Continuous(Hyperparameter):
    interval: Interval = field(default_factory=Interval)

    def _convert(self, raw: str) -> float:
        try:
            number = float(raw)
        except ValueError:
            raise self._error(raw, "is not a number") from None
        if not math.isfinite(number):
            raise self._error(raw, "is not a finite number")
        return number

    def _check(self, value: float) -> None:
        if not self.interval.contains(value):
            raise UserError(
                f"{self.name}={_number(value)} is out of range: "
                f"must be {self.interval.describe(self.name)}"
            )


@dataclass(frozen=True)
class Categorical(Hyperparameter):
    choices: tuple[str, ...] = ()

    def _convert(self, raw: str) -> str:
        if raw not in self.choices:
            raise self._error(raw, f"is not allowed: must be one of {', '.join(self.choices)}")
        return raw


@dataclass(frozen=True)
class Boolean(Hyperparameter):
    def _convert(self, raw: str) -> bool:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise self._error(raw, "is not a boolean: must be true or false")


@dataclass(frozen=True)
class CategoricalList(Hyperparameter):
    """A list of choices, written `a,b` or as a JSON list `["a", "b"]`."""

    choices: tuple[str, ...] = ()

    def _convert(self, raw: str) -> tuple[str, ...]:
        items: list[Any]
        if raw.startswith("["):
            try:
                items = json.loads(raw)
            except json.JSONDecodeError:
                raise self._error(raw, "is not a list: write a,b or a JSON list") from None
        else:
            items = raw.split(",")
        values = tuple(str(item).strip() for item in items if str(item).strip())
        if not values:
            raise self._error(raw, "is empty: give at least one value")
        for value in values:
            if self.choices and value not in self.choices:
                raise self._error(
                    raw,
                    f"holds {value!r}, which is not allowed: each must be one of "
                    f"{', '.join(self.choices)}",
                )
        return values


class HyperparameterSchema:
    """The hyperparameters one algorithm accepts."""

    def __init__(self, declared: Iterable[Hyperparameter]) -> None:
        self.declared = {hp.name: hp for hp in declared}

    def parse(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """Typed values for every declared name (defaults filled in); unknown names rejected."""
        for name in raw:
            if name not in self.declared:
                close = difflib.get_close_matches(name, self.declared, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UserError(
                    f"hyperparameter {name!r} is unknown{hint}: must be one of "
                    f"{', '.join(sorted(self.declared))}"
                )
        values = {}
        for name, hp in self.declared.items():
            if name in raw:
                values[name] = hp.parse(raw[name])
            elif hp.required:
                raise UserError(f"hyperparameter {name} is required: set {name} in the job")
            else:
                values[name] = hp.default
        return values
