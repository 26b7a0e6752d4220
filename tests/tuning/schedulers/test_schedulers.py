"""Random and Grid search: the scheduler contract they share with Hyperband, and their own rules."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtune.tuning.amt.grid import combinations, grid_problems, grid_size
from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange, Scaling
from smtune.tuning.amt.strategy import EarlyStopping, Strategy, strategy_problems
from smtune.tuning.schedulers.base import Decision, Scheduler
from smtune.tuning.schedulers.bayesian import NotRehearsable, check_rehearsable
from smtune.tuning.schedulers.grid_search import GridSearch
from smtune.tuning.schedulers.hyperband import HyperbandScheduler
from smtune.tuning.schedulers.random_search import RandomSearch

SPACE = {
    "alpha": FloatRange(0.001, 10.0, Scaling.LOGARITHMIC),
    "min_child_weight": IntRange(1, 8),
    "grow_policy": Choice(("depthwise", "lossguide")),
}
GRID = {"tree_method": Choice(("exact", "hist", "approx")), "booster": Choice(("gbtree", "dart"))}

MAKERS: dict[str, Callable[[], Scheduler]] = {
    "hyperband": lambda: HyperbandScheduler(SPACE, 1, 9, maximize=True, seed=3),
    "random": lambda: RandomSearch(SPACE, maximize=True, seed=3, max_resource=9),
    "grid": lambda: GridSearch(GRID, maximize=True, max_resource=9),
}


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_every_scheduler_keeps_the_contract(make: Callable[[], Scheduler]) -> None:
    scheduler = make()
    scheduler.suggest("a")
    with pytest.raises(ValueError, match="already suggested"):
        scheduler.suggest("a")
    with pytest.raises(ValueError, match="never suggested"):
        scheduler.on_result("b", 1, 0.5)
    assert scheduler.on_result("a", 1, 0.5) in (Decision.CONTINUE, Decision.STOP)
    assert scheduler.resource("a") == 1
    scheduler.suggest("c")
    with pytest.raises(ValueError, match="reported resource 1 after 1"):
        scheduler.on_result("a", 1, 0.6)
    assert scheduler.on_result("c", 9, 0.5) is Decision.COMPLETE
    with pytest.raises(ValueError, match="already ended: Complete"):
        scheduler.on_result("c", 10, 0.5)
    scheduler.on_end("c")  # the runner reports the end of a job it completed: nothing changes
    assert scheduler.resource("c") == 9


def test_random_search_is_seeded_and_ignores_results() -> None:
    first, second = RandomSearch(SPACE, True, seed=11), RandomSearch(SPACE, True, seed=11)
    drawn = [first.suggest(f"j{i}").hyperparameters for i in range(20)]
    for i in range(20):  # the second one sees results between draws: the draws do not change
        assert second.suggest(f"j{i}").hyperparameters == drawn[i]
        second.on_result(f"j{i}", 1, float(i))
    assert RandomSearch(SPACE, True, seed=12).suggest("j0").hyperparameters != drawn[0]
    assert all(0.001 <= h["alpha"] <= 10 and 1 <= h["min_child_weight"] <= 8 for h in drawn)  # type: ignore[operator]
    assert {h["grow_policy"] for h in drawn} == {"depthwise", "lossguide"}


def test_random_search_never_stops_a_job_for_its_results() -> None:
    scheduler = RandomSearch(SPACE, maximize=True, seed=0)
    for i in range(5):
        scheduler.suggest(f"j{i}")
    decisions = [
        scheduler.on_result(f"j{i}", step, value)
        for step in range(1, 50)
        for i, value in enumerate([0.9, 0.1, math.nan, -5.0, 0.5])
    ]
    assert set(decisions) == {Decision.CONTINUE}  # no MaxResource: every job runs to its end
    scheduler.on_end("j1")
    assert [v.decision for v in scheduler.verdicts][-1] is Decision.CONTINUE
    with pytest.raises(ValueError, match="already ended: Stop"):
        scheduler.on_result("j1", 50, 0.2)


def test_random_search_completes_at_max_resource() -> None:
    scheduler = RandomSearch(SPACE, maximize=False, seed=0, max_resource=3)
    scheduler.suggest("a")
    assert [scheduler.on_result("a", r, 1.0) for r in (1, 2, 3)] == [
        Decision.CONTINUE,
        Decision.CONTINUE,
        Decision.COMPLETE,
    ]
    with pytest.raises(ValueError, match="MaxResource=0 is out of range"):
        RandomSearch(SPACE, maximize=False, max_resource=0)


def test_random_search_with_auto_early_stopping_applies_the_median_rule() -> None:
    scheduler = RandomSearch(SPACE, True, seed=0, early_stopping=EarlyStopping.AUTO)
    for job, values in (("a", [0.5, 0.6, 0.7]), ("b", [0.7, 0.8, 0.9])):
        scheduler.suggest(job)
        for step, value in enumerate(values, start=1):
            assert scheduler.on_result(job, step, value) is Decision.CONTINUE
        scheduler.on_end(job)
    scheduler.suggest("c")
    # previous running averages at step 1: 0.5 and 0.7, median 0.6
    assert scheduler.on_result("c", 1, 0.6) is Decision.CONTINUE
    # at step 2: (0.5+0.6)/2=0.55 and (0.7+0.8)/2=0.75, median 0.65; 0.64 is worse
    assert scheduler.on_result("c", 2, 0.64) is Decision.STOP
    assert scheduler.verdicts[-1].decision is Decision.STOP


def test_grid_enumerates_every_combination_in_the_documented_order() -> None:
    scheduler = GridSearch(GRID, maximize=True)
    assert scheduler.size == grid_size(GRID) == 6
    got = [scheduler.suggest(f"j{i}").hyperparameters for i in range(6)]
    assert got == [
        {"booster": "gbtree", "tree_method": "exact"},
        {"booster": "gbtree", "tree_method": "hist"},
        {"booster": "gbtree", "tree_method": "approx"},
        {"booster": "dart", "tree_method": "exact"},
        {"booster": "dart", "tree_method": "hist"},
        {"booster": "dart", "tree_method": "approx"},
    ]
    assert list(combinations(GRID)) == got
    with pytest.raises(ValueError, match="grid's 6 combinations are all taken"):
        scheduler.suggest("j6")


def test_a_duplicate_job_does_not_use_up_a_combination() -> None:
    scheduler = GridSearch(GRID, maximize=True)
    scheduler.suggest("a")
    with pytest.raises(ValueError, match="already suggested"):
        scheduler.suggest("a")
    assert scheduler.suggest("b").hyperparameters == {"booster": "gbtree", "tree_method": "hist"}


def test_grid_refuses_every_non_categorical_range_at_once() -> None:
    assert grid_problems(SPACE, None) == [
        "ParameterRanges.alpha=FloatRange: Grid search takes categorical ranges only (AWS: "
        "'Only categorical parameters are supported when using the grid search strategy')",
        "ParameterRanges.min_child_weight=IntRange: Grid search takes categorical ranges only "
        "(AWS: 'Only categorical parameters are supported when using the grid search strategy')",
    ]
    with pytest.raises(ValueError, match=r"ParameterRanges\.alpha=FloatRange: Grid search takes"):
        GridSearch(SPACE, maximize=True)
    assert grid_problems({}, None) == [
        "ParameterRanges is empty: Grid search needs a categorical range"
    ]


@pytest.mark.parametrize(("max_jobs", "ok"), [(None, True), (6, True), (5, False), (7, False)])
def test_grid_max_jobs_is_absent_or_the_number_of_combinations(
    max_jobs: int | None, ok: bool
) -> None:
    expected = (
        []
        if ok
        else [
            f"ResourceLimits.MaxNumberOfTrainingJobs={max_jobs}: with Grid search it must be "
            "absent or equal the number of combinations, 6"
        ]
    )
    assert grid_problems(GRID, max_jobs) == expected


def test_bayesian_is_refused_for_rehearsal_with_a_way_out() -> None:
    for strategy in (Strategy.RANDOM, Strategy.GRID, Strategy.HYPERBAND):
        check_rehearsable(strategy)
    with pytest.raises(NotRehearsable, match="Strategy=Bayesian cannot be rehearsed") as caught:
        check_rehearsable(Strategy.BAYESIAN)
    assert "Rehearse the same spec with Strategy=Random" in str(caught.value)


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.text("abcxyz", min_size=1, max_size=4),
        st.lists(st.text("pqrs", min_size=1, max_size=3), min_size=1, max_size=4, unique=True),
        min_size=1,
        max_size=4,
    )
)
def test_a_grid_is_every_distinct_combination_once(values: dict[str, list[str]]) -> None:
    space = {name: Choice(tuple(v)) for name, v in values.items()}
    scheduler = GridSearch(space, maximize=False)
    drawn = [scheduler.suggest(f"j{i}").hyperparameters for i in range(scheduler.size)]
    assert scheduler.size == math.prod(len(v) for v in values.values())
    assert len({tuple(sorted(h.items())) for h in drawn}) == len(drawn)
    assert all(h[name] in values[name] for h in drawn for name in values)
    assert grid_problems(space, scheduler.size) == []


def test_hyperband_refuses_auto_early_stopping_and_the_others_take_it() -> None:
    assert strategy_problems(Strategy.HYPERBAND, EarlyStopping.AUTO) == [
        "TrainingJobEarlyStoppingType=Auto with Strategy=Hyperband: must be Off, Hyperband "
        "stops jobs early itself"
    ]
    assert strategy_problems(Strategy.HYPERBAND, EarlyStopping.OFF) == []
    for strategy in (Strategy.RANDOM, Strategy.GRID, Strategy.BAYESIAN):
        assert strategy_problems(strategy, EarlyStopping.AUTO) == []
