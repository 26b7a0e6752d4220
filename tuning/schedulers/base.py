"""What a rehearsal drives: the scheduler interface and the values it decides with.

The Hyperband scheduler set the interface (`suggest`, `on_result`, `on_end`, `resource`);
Random and Grid follow it, so the rehearsal drives any strategy through one loop. A strategy
without brackets puts every job in bracket 0, the only one it has.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Scheduler(Protocol):
    """What the runner calls; decisions are values, and the scheduler does no I/O."""

    def suggest(self, job: str) -> Suggestion: ...

    def on_result(self, job: str, resource: int, value: float) -> Decision: ...

    def on_end(self, job: str) -> None: ...

    def resource(self, job: str) -> int: ...


class Decision(enum.Enum):
    CONTINUE = "Continue"
    STOP = "Stop"  # early: the job ends as Stopped
    COMPLETE = "Complete"  # it reached MaxResource: stop it; it counts as Completed


@dataclass(frozen=True)
class Suggestion:
    job: str
    bracket: int
    hyperparameters: dict[str, float | int | str]


@dataclass(frozen=True)
class Verdict:
    """One decision, as the journal keeps it."""

    job: str
    resource: int
    value: float
    decision: Decision
    time: float


class Progress(Protocol):
    """Where a job stands, as a scheduler keeps it."""

    resource: int
    decision: Decision


P = TypeVar("P", bound=Progress)


def checked(job: str, state: P | None, resource: int) -> P:
    """`state`, once the result at `resource` is one a runner may send: for a job that was
    suggested (`state` not None), has not ended, and reports more resource than before.
    Every scheduler refuses the others the same way."""
    if state is None:
        raise ValueError(f"job {job!r} was never suggested")
    if state.decision is not Decision.CONTINUE:
        raise ValueError(f"job {job!r} already ended: {state.decision.value}")
    if resource <= state.resource:
        raise ValueError(f"job {job!r} reported resource {resource} after {state.resource}")
    return state
