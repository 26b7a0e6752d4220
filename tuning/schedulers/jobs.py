"""Per-job bookkeeping shared by the schedulers without brackets (Random, Grid)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.schedulers.base import Decision, Suggestion, Verdict, checked
from smtune.tuning.schedulers.median_stopping import MedianStoppingRule


@dataclass
class _State:
    resource: int = 0
    decision: Decision = Decision.CONTINUE


@dataclass
class JobBook:
    """Decides on results for strategies whose only stopping is MaxResource and, with
    `TrainingJobEarlyStoppingType: Auto`, the median rule."""

    max_resource: int | None
    early_stopping: EarlyStopping
    maximize: bool
    clock: Callable[[], float]
    verdicts: list[Verdict] = field(default_factory=list)
    _jobs: dict[str, _State] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rule = (
            MedianStoppingRule(self.maximize) if self.early_stopping is EarlyStopping.AUTO else None
        )
        if self.max_resource is not None and self.max_resource < 1:
            raise ValueError(
                f"MaxResource={self.max_resource} is out of range: must be MaxResource >= 1"
            )

    def add(self, job: str) -> None:
        if job in self._jobs:
            raise ValueError(f"job {job!r} was already suggested")
        self._jobs[job] = _State()

    def on_result(self, job: str, resource: int, value: float) -> Decision:
        state = checked(job, self._jobs.get(job), resource)
        state.resource = resource
        stop_early = self.rule is not None and self.rule.observe(job, resource, value)
        if self.max_resource is not None and resource >= self.max_resource:
            decision = Decision.COMPLETE
        elif stop_early:
            decision = Decision.STOP
        else:
            decision = Decision.CONTINUE
        state.decision = decision
        if decision is not Decision.CONTINUE and self.rule is not None:
            self.rule.end(job)
        self.verdicts.append(Verdict(job, resource, value, decision, self.clock()))
        return decision

    def on_end(self, job: str) -> None:
        state = self._jobs[job]
        if state.decision is Decision.CONTINUE:
            state.decision = Decision.STOP
        if self.rule is not None:
            self.rule.end(job)

    def resource(self, job: str) -> int:
        return self._jobs[job].resource


class Unbracketed:
    """The runner-facing methods of a scheduler whose decisions its `JobBook` makes."""

    _book: JobBook

    @property
    def verdicts(self) -> list[Verdict]:
        return self._book.verdicts

    @property
    def median_rule(self) -> MedianStoppingRule | None:
        """The median rule of early stopping Auto; None: Off."""
        return self._book.rule

    def _suggestion(self, job: str, hyperparameters: dict[str, float | int | str]) -> Suggestion:
        self._book.add(job)
        return Suggestion(job, 0, hyperparameters)

    def on_result(self, job: str, resource: int, value: float) -> Decision:
        """The decision after `job` has used `resource` units and reported `value`."""
        return self._book.on_result(job, resource, value)

    def on_end(self, job: str) -> None:
        """The job ended on its own (completed its rounds, failed, was stopped by the user)."""
        self._book.on_end(job)

    def resource(self, job: str) -> int:
        """The resource `job` has reported so far."""
        return self._book.resource(job)
