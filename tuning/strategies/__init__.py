"""Search strategies and AMT's rules around them, pure: no I/O, no clock of their own.

Schedulers with the Hyperband scheduler's interface (Random, Grid; Bayesian is refused for
rehearsal, argued in `bayesian`), the median rule of early stopping Auto, completion criteria,
retries, warm start and several training definitions. Each rule cites its source; where AMT
does not publish its rule, the module says what stands in for it.
"""

from smtune.tuning.strategies.base import EarlyStopping, Scheduler, Strategy, strategy_problems
from smtune.tuning.strategies.bayesian import NotRehearsable, check_rehearsable
from smtune.tuning.strategies.completion import (
    CompletionCriteria,
    CompletionDetails,
    Criterion,
    FinalObjective,
    evaluate,
)
from smtune.tuning.strategies.definitions import Definition, definitions_problems
from smtune.tuning.strategies.grid import GridSearch, combinations, grid_problems, grid_size
from smtune.tuning.strategies.median_stopping import MedianStoppingRule
from smtune.tuning.strategies.random_search import RandomSearch
from smtune.tuning.strategies.retry import FailureKind, RetryDecision, RetryStrategy, decide
from smtune.tuning.strategies.warm_start import (
    Observation,
    Parent,
    TuningShape,
    WarmStartType,
    overall_best,
    warm_start_problems,
)

__all__ = [
    "CompletionCriteria",
    "CompletionDetails",
    "Criterion",
    "Definition",
    "EarlyStopping",
    "FailureKind",
    "FinalObjective",
    "GridSearch",
    "MedianStoppingRule",
    "NotRehearsable",
    "Observation",
    "Parent",
    "RandomSearch",
    "RetryDecision",
    "RetryStrategy",
    "Scheduler",
    "Strategy",
    "TuningShape",
    "WarmStartType",
    "check_rehearsable",
    "combinations",
    "decide",
    "definitions_problems",
    "evaluate",
    "grid_problems",
    "grid_size",
    "overall_best",
    "strategy_problems",
    "warm_start_problems",
]
