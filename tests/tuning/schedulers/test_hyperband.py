"""The asynchronous Hyperband scheduler: hand-worked rungs, and properties over many runs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange, Scaling
from smtune.tuning.schedulers.base import Decision
from smtune.tuning.schedulers.bracket_policy import BracketPolicy
from smtune.tuning.schedulers.hyperband import HyperbandScheduler

SPACE = {
    "eta": FloatRange(0.01, 0.5, Scaling.LOGARITHMIC),
    "max_depth": IntRange(3, 10),
    "booster": Choice(("gbtree", "dart")),
}


def jobs_in_bracket(scheduler: HyperbandScheduler, bracket: int, count: int) -> list[str]:
    """Suggest jobs until `count` of them landed in `bracket`."""
    found: list[str] = []
    for i in range(1000):
        if len(found) == count:
            break
        suggestion = scheduler.suggest(f"job-{i}")
        if suggestion.bracket == bracket:
            found.append(suggestion.job)
    return found


def test_a_rung_keeps_the_best_third_of_what_reached_it() -> None:
    scheduler = HyperbandScheduler(SPACE, 1, 9, maximize=True, seed=7)
    a, b, c, d = jobs_in_bracket(scheduler, 0, 4)  # bracket 0: rungs 1, 3, 9
    assert scheduler.on_result(a, 1, 0.70) is Decision.CONTINUE  # alone: best 1 of 1
    assert scheduler.on_result(b, 1, 0.60) is Decision.STOP  # best 1 of 2 is a
    assert scheduler.on_result(c, 1, 0.80) is Decision.CONTINUE  # best 1 of 3
    assert scheduler.on_result(d, 1, 0.75) is Decision.CONTINUE  # best 2 of 4: c, d
    assert scheduler.on_result(a, 2, 0.71) is Decision.CONTINUE  # no rung at 2
    assert scheduler.on_result(a, 3, 0.72) is Decision.CONTINUE  # first at rung 3
    assert scheduler.on_result(a, 9, 0.73) is Decision.COMPLETE  # MaxResource reached
    assert [v.decision for v in scheduler.verdicts].count(Decision.STOP) == 1


def test_minimizing_and_nan_rank_last() -> None:
    scheduler = HyperbandScheduler(SPACE, 1, 9, maximize=False, seed=7)
    a, b, c = jobs_in_bracket(scheduler, 0, 3)
    assert scheduler.on_result(a, 1, 0.5) is Decision.CONTINUE
    assert scheduler.on_result(b, 1, math.nan) is Decision.STOP
    assert scheduler.on_result(c, 1, 0.4) is Decision.CONTINUE


def test_the_last_bracket_never_stops_a_job_early() -> None:
    scheduler = HyperbandScheduler(
        SPACE, 1, 9, maximize=True, seed=3, policy=BracketPolicy.HYPERBAND
    )
    last = len(scheduler.brackets) - 1
    jobs = jobs_in_bracket(scheduler, last, 3)
    assert len(jobs) == 3
    for value, job in enumerate(jobs):
        for resource in range(1, 9):
            assert scheduler.on_result(job, resource, -value) is Decision.CONTINUE
        assert scheduler.on_result(job, 9, -value) is Decision.COMPLETE


def test_misuse_is_named() -> None:
    scheduler = HyperbandScheduler(SPACE, 1, 9, maximize=True, seed=1)
    with pytest.raises(ValueError, match="job 'x' was never suggested"):
        scheduler.on_result("x", 1, 0.5)
    scheduler.suggest("a")
    with pytest.raises(ValueError, match="job 'a' was already suggested"):
        scheduler.suggest("a")
    scheduler.on_result("a", 9, 0.5)
    with pytest.raises(ValueError, match="job 'a' already ended: Complete"):
        scheduler.on_result("a", 10, 0.5)


def simulate(
    seed: int, jobs: int, low: int, high: int, noise: list[float], policy: BracketPolicy
) -> list[tuple]:
    """Jobs report in turn until each ends; a job's curve rises towards a plateau of its own."""
    scheduler = HyperbandScheduler(SPACE, low, high, maximize=True, seed=seed, policy=policy)
    curves = {}
    for i in range(jobs):
        suggestion = scheduler.suggest(f"job-{i}")
        plateau = suggestion.hyperparameters["eta"] * 2 + noise[i % len(noise)]
        curves[suggestion.job] = (suggestion.bracket, plateau)
    resource = dict.fromkeys(curves, 0)
    running = list(curves)
    while running:
        for job in list(running):
            resource[job] += 1
            _, plateau = curves[job]
            value = plateau * (1 - 1 / (1 + resource[job]))
            if scheduler.on_result(job, resource[job], value) is not Decision.CONTINUE:
                running.remove(job)
    return [(v.job, v.resource, v.decision, curves[v.job][0]) for v in scheduler.verdicts]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    jobs=st.integers(1, 40),
    low=st.integers(1, 10),
    span=st.integers(0, 60),
    noise=st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=5),
    policy=st.sampled_from(BracketPolicy),
)
def test_properties_of_any_run(
    seed: int, jobs: int, low: int, span: int, noise: list[float], policy: BracketPolicy
) -> None:
    high = low + span
    run = simulate(seed, jobs, low, high, noise, policy)
    scheduler = HyperbandScheduler(SPACE, low, high, maximize=True, seed=seed)
    rungs = {b.index: b.rungs for b in scheduler.brackets}
    ends = {
        job: (resource, decision)
        for job, resource, decision, _ in run
        if decision is not Decision.CONTINUE
    }
    assert len(ends) == jobs  # every job ended
    for _job, resource, decision, bracket in run:
        assert resource <= high  # no job exceeds MaxResource
        if decision is Decision.STOP:
            assert resource >= low  # never stopped before MinResource
            assert resource in rungs[bracket]  # only at a rung of its bracket
        if decision is Decision.COMPLETE:
            assert resource == high
    assert sum(resource for resource, _ in ends.values()) <= jobs * high
    if policy is BracketPolicy.ASHA:
        assert {bracket for *_, bracket in run} <= {0}  # one bracket, from MinResource
    assert run == simulate(seed, jobs, low, high, noise, policy)  # same seed, same decisions
