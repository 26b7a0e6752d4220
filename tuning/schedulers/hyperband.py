"""Asynchronous Hyperband: which configuration to try next, and whether a job goes on.

Our documented reading of AMT's Hyperband, whose internals are not public (η, bracket
assignment and promotion are our choices, as in ASHA, Li et al. 2020):

- each new job joins a bracket chosen by the bracket policy (`tuning.schedulers.bracket_policy`):
  with `ASHA`, the default, the one bracket whose rungs start at MinResource; with
  `HYPERBAND`, a bracket drawn at random with Hyperband's weights (bracket s gets n_s of
  every Σn jobs);
- a job samples its hyperparameters from the seeded generator; brackets are drawn from a
  second generator, derived from the same seed, so that the configurations tried do not
  depend on the policy;
- a job reports its objective after each unit of resource (one metric line, for AMT);
- at each rung of its bracket below MaxResource, a job goes on only if its value is within
  the best ⌈n/η⌉ of the n values its bracket has recorded at that rung so far; a job is never
  stopped before its bracket's first rung, which is at least MinResource;
- a job that reaches MaxResource is done: it is stopped, and counts as Completed.

The scheduler does no I/O and reads no clock of its own: decisions are values, and the
runner that holds the jobs applies them. The same seed and the same order of results give
the same decisions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smtune.tuning.amt.brackets import DEFAULT_ETA, Bracket, brackets
from smtune.tuning.amt.ranges import Range, sample
from smtune.tuning.schedulers.base import Decision, Suggestion, Verdict, checked
from smtune.tuning.schedulers.bracket_policy import BracketPolicy, draw_bracket


@dataclass
class _Job:
    bracket: Bracket
    resource: int = 0
    decision: Decision = Decision.CONTINUE


@dataclass
class HyperbandScheduler:
    """Args:
    space: Hyperparameter name -> range.
    min_resource, max_resource: AMT's MinResource and MaxResource.
    maximize: Whether a larger objective is better.
    seed: Seeds every random choice; None draws a seed from the system.
    eta: The reduction factor, 3 as in Hyperband's paper.
    clock: Timestamps decisions; injected, so tests and simulations run on any time.
    policy: Which bracket a new job joins (`BracketPolicy`); ASHA's one bracket by default.
    """

    space: Mapping[str, Range]
    min_resource: int
    max_resource: int
    maximize: bool
    seed: int | None = None
    eta: int = DEFAULT_ETA
    clock: Callable[[], float] = lambda: 0.0
    policy: BracketPolicy = BracketPolicy.ASHA
    verdicts: list[Verdict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.brackets = brackets(self.min_resource, self.max_resource, self.eta)
        self._rng = random.Random(self.seed)
        # Its own generator: a policy that draws brackets changes no configuration.
        self._bracket_rng = random.Random(None if self.seed is None else f"brackets-{self.seed}")
        self._jobs: dict[str, _Job] = {}
        self._rungs: dict[tuple[int, int], list[float]] = {}

    def suggest(self, job: str) -> Suggestion:
        """A bracket and a configuration for a new job."""
        if job in self._jobs:
            raise ValueError(f"job {job!r} was already suggested")
        bracket = draw_bracket(self.policy, self.brackets, self._bracket_rng)
        self._jobs[job] = _Job(bracket)
        return Suggestion(job, bracket.index, sample(self.space, self._rng))

    def on_result(self, job: str, resource: int, value: float) -> Decision:
        """The decision after `job` has used `resource` units and reported `value`."""
        state = checked(job, self._jobs.get(job), resource)
        state.resource = resource
        if resource >= self.max_resource:
            decision = Decision.COMPLETE
        elif resource in state.bracket.rungs:
            decision = self._judge_at_rung(state.bracket.index, resource, value)
        else:
            decision = Decision.CONTINUE
        state.decision = decision
        self.verdicts.append(Verdict(job, resource, value, decision, self.clock()))
        return decision

    def resource(self, job: str) -> int:
        """The resource `job` has reported so far."""
        return self._jobs[job].resource

    def on_end(self, job: str) -> None:
        """The job ended on its own (completed its rounds, failed, was stopped by the user)."""
        state = self._jobs[job]
        if state.decision is Decision.CONTINUE:
            state.decision = Decision.STOP

    def record_previous(self, resource: int, value: float) -> int:
        """A value at `resource` of a job this scheduler did not run (a warm start parent's):
        kept at that rung of every bracket that has one below MaxResource, where it ranks the
        jobs that reach the rung later. Decides nothing; returns the rungs it joined."""
        score = value if not math.isnan(value) else -math.inf if self.maximize else math.inf
        joined = 0
        for bracket in self.brackets:
            if resource in bracket.rungs and resource < self.max_resource:
                self._rungs.setdefault((bracket.index, resource), []).append(score)
                joined += 1
        return joined

    def _judge_at_rung(self, bracket: int, rung: int, value: float) -> Decision:
        # NaN is the worst value of all: it never ranks above a number.
        score = value if not math.isnan(value) else -math.inf if self.maximize else math.inf
        recorded = self._rungs.setdefault((bracket, rung), [])
        recorded.append(score)
        keep = math.ceil(len(recorded) / self.eta)
        best = sorted(recorded, reverse=self.maximize)[:keep]
        better_or_equal = score >= best[-1] if self.maximize else score <= best[-1]
        return Decision.CONTINUE if better_or_equal else Decision.STOP
