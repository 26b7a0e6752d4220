"""The rehearsal's scheduler for a plan's strategy, and how long a job runs when nothing stops it.

One factory, so the rehearsal never names a strategy: Hyperband gets its brackets over
[MinResource, MaxResource]; Random and Grid have no MaxResource (AMT defines it for Hyperband
only), so their jobs run to their own end (the image's epochs or num_round), or until the median
rule of `early_stopping: Auto` stops them; Bayesian is refused (`tuning.schedulers.bayesian`
argues why). An autotuned plan is rehearsed only when it gives what the rehearsal needs: the
number of jobs, the early stopping and every range, which AMT would otherwise choose out of
sight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt.autotune import left_to_amt
from smtune.tuning.amt.ranges import Range
from smtune.tuning.amt.strategy import EarlyStopping, Strategy
from smtune.tuning.plan import TrainingDefinition, TuningPlan
from smtune.tuning.schedulers.base import Scheduler
from smtune.tuning.schedulers.bayesian import NotRehearsable, check_rehearsable
from smtune.tuning.schedulers.bracket_policy import BracketPolicy
from smtune.tuning.schedulers.grid_search import GridSearch
from smtune.tuning.schedulers.hyperband import HyperbandScheduler
from smtune.tuning.schedulers.random_search import RandomSearch


def rehearsed(plan: TuningPlan) -> tuple[int, EarlyStopping]:
    """How many jobs a rehearsal of `plan` runs, and its early stopping; NotRehearsable when
    its strategy cannot be rehearsed, or when AMT would choose either (Autotune)."""
    check_rehearsable(plan.strategy)
    if plan.strategy is Strategy.GRID and len(plan.definitions) > 1:
        raise NotRehearsable(
            "strategy.type: a Grid over several training job definitions is not rehearsed "
            "(AMT does not say how it shares a grid among definitions): rehearse each "
            "definition's grid as a spec of its own"
        )
    hinted = [name for d in plan.definitions for name in d.auto_parameters]
    if hinted:
        raise NotRehearsable(
            f"auto_parameters: AMT chooses the ranges of {', '.join(hinted)} from their example "
            "values, and its choice is not public: give them as ranges to rehearse the spec"
        )
    max_jobs, early_stopping = plan.max_jobs, plan.early_stopping
    if max_jobs is None or early_stopping is None:
        raise NotRehearsable(
            f"autotune: true leaves {', '.join(left_to_amt(max_jobs, early_stopping))} to AMT, "
            "whose choices are not public: give them in the spec to rehearse it (AMT may "
            "still choose otherwise)"
        )
    return max_jobs, early_stopping


def scheduler_for(
    plan: TuningPlan,
    space: Mapping[str, Range],
    brackets: BracketPolicy,
    clock: Callable[[], float],
) -> Scheduler:
    """The scheduler that rehearses `plan`, drawing from `space` (every definition's ranges,
    `allocation`); `brackets` is Hyperband's policy. NotRehearsable says why there is none."""
    _, early_stopping = rehearsed(plan)
    maximize = plan.objective.direction is Direction.MAXIMIZE
    if plan.hyperband is not None:
        return HyperbandScheduler(
            space,
            plan.hyperband.min_resource,
            plan.hyperband.max_resource,
            maximize=maximize,
            seed=plan.random_seed,
            clock=clock,
            policy=brackets,
        )
    if plan.strategy is Strategy.GRID:
        return GridSearch(space, maximize, early_stopping=early_stopping, clock=clock)
    return RandomSearch(
        space, maximize, plan.random_seed, early_stopping=early_stopping, clock=clock
    )


def check_lengths(plan: TuningPlan) -> None:
    """NotRehearsable unless every job of `plan` has a length: the static one, or each value
    its tuned range may take (checked at the range's edges, or every categorical value)."""
    for definition in plan.definitions:
        tuned = definition.ranges.get(definition.resource)
        edges = tuned.edge_values if tuned is not None else ()
        for hyperparameters in [{definition.resource: value} for value in edges] or [{}]:
            job_length(plan, definition, hyperparameters)


def job_length(
    plan: TuningPlan, definition: TrainingDefinition, hyperparameters: Mapping[str, object]
) -> int:
    """Units of resource a job of `plan`'s `definition` with these tuned `hyperparameters`
    uses when nothing stops it: MaxResource with Hyperband, else its own epochs-like
    hyperparameter (tuned, or static). NotRehearsable when neither says it."""
    if plan.hyperband is not None:
        return plan.hyperband.max_resource
    resource = definition.resource
    value = hyperparameters.get(resource, definition.static_hyperparameters.get(resource))
    try:
        length = int(str(value))
    except ValueError:
        length = 0
    if length < 1:
        raise NotRehearsable(
            f"{resource}={value}: without Hyperband a job runs to its "
            f"own end, so the rehearsal needs {resource} as a positive integer (static, or "
            "tuned as an integer) to know its length"
        )
    return length
