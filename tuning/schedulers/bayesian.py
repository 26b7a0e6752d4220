"""Bayesian search: planned and sent to AMT, but not rehearsed. A refusal, argued here.

AWS says only that its Bayesian optimization treats tuning as a regression problem, guesses
which combinations are likely to do best from the results so far, and balances exploring new
regions against exploiting known good ones (Developer Guide, "How hyperparameter tuning with
Amazon SageMaker works", Bayesian optimization). The surrogate, its kernel, the acquisition
function, how many random jobs come first and how parallel jobs are batched are not public.

What would a rehearsal with a stand-in (a small GP, a TPE) promise? The rehearsal exists to
tell a user, before paying, what AMT will do with this spec: which jobs run, how they are
stopped and counted, how much compute goes, and roughly how good the best job is. A stand-in
would answer the last two with its own configurations, not AMT's: its best objective and its
compute would read as a forecast of AMT's and be no such thing, and its fit to the strategy
would go untested, since nothing can compare it with AMT's choices offline. Everything else a
rehearsal checks (the image runs, the metric regex matches, jobs end, early stopping and
completion criteria act, retries are counted) does not depend on how configurations are
chosen: rehearsing the same spec with Random checks all of it, and says so.

So `plan` and `submit` take Bayesian as they take any strategy, and the rehearsal refuses it
with `NotRehearsable`, whose message names the field, the value and what to do instead.
"""

from __future__ import annotations

from smtune.tuning.amt.strategy import Strategy

REHEARSABLE = frozenset({Strategy.RANDOM, Strategy.GRID, Strategy.HYPERBAND})


class NotRehearsable(Exception):
    """The spec is valid for AMT, but the rehearsal cannot run it faithfully."""


def check_rehearsable(strategy: Strategy) -> None:
    """Raise NotRehearsable for a strategy whose choices AMT does not publish."""
    if strategy in REHEARSABLE:
        return
    raise NotRehearsable(
        f"Strategy={strategy.value} cannot be rehearsed: AMT's Bayesian optimization is not "
        "public, and a stand-in's configurations, best objective and compute would not be "
        "AMT's. Rehearse the same spec with Strategy=Random to check the image, the metrics, "
        "early stopping, completion criteria and retries; `plan` and `submit` take Bayesian "
        "as it is."
    )
