"""What a study measures: typed values, written to and read from its journal as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Curve:
    """One job's objective per unit of resource, as the tuner read it."""

    job: str
    points: tuple[tuple[int, float], ...]

    @property
    def final(self) -> float | None:
        return self.points[-1][1] if self.points else None

    @property
    def resource(self) -> int:
        return self.points[-1][0] if self.points else 0

    def at(self, resource: int) -> float | None:
        return next((v for r, v in self.points if r == resource), None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Curve:
        return cls(data["job"], tuple((int(r), float(v)) for r, v in data["points"]))


@dataclass(frozen=True)
class BaselineRun:
    """The untuned job at one cluster size."""

    hosts: int
    status: str
    objective: float | None
    wall_seconds: float
    billable_seconds: float
    curve: Curve

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaselineRun:
        return cls(**{**data, "curve": Curve.from_json(data["curve"])})


@dataclass(frozen=True)
class TunedRun:
    """One tuning job's outcome at one cluster size (or the rung check's, `hosts` its size)."""

    hosts: int
    best_objective: float | None
    best_job: str | None
    resource_used: int
    resource_worst_case: int
    billable_seconds: float
    billable_seconds_worst_case: float
    wall_seconds: float
    jobs: dict[str, int]
    curves: tuple[Curve, ...] = ()
    best_hyperparameters: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TunedRun:
        return cls(**{**data, "curves": tuple(Curve.from_json(c) for c in data["curves"])})
