"""Bracket policies: ASHA's one bracket (the default) and Hyperband's weighted brackets."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from smtune.tuning.amt.brackets import brackets
from smtune.tuning.amt.ranges import FloatRange, IntRange, Scaling
from smtune.tuning.schedulers.base import Decision
from smtune.tuning.schedulers.bracket_policy import BracketPolicy, draw_bracket
from smtune.tuning.schedulers.hyperband import HyperbandScheduler

SPACE = {"eta": FloatRange(0.05, 0.5, Scaling.LOGARITHMIC), "max_depth": IntRange(3, 10)}
SHIPPED = brackets(10, 200)  # the shipped job's: rungs 10, 30, 90, 200


def test_the_shipped_jobs_brackets_and_weights() -> None:
    assert [(b.rungs, b.jobs) for b in SHIPPED] == [
        ((10, 30, 90, 200), 27),
        ((30, 90, 200), 12),
        ((90, 200), 6),
        ((200,), 4),
    ]


def test_asha_is_the_default_and_puts_every_job_in_the_bracket_from_min_resource() -> None:
    scheduler = HyperbandScheduler(SPACE, 10, 200, maximize=True, seed=1729)
    assert scheduler.policy is BracketPolicy.ASHA
    assert {scheduler.suggest(f"job-{i}").bracket for i in range(200)} == {0}


def test_asha_draws_nothing_from_the_generator() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    assert draw_bracket(BracketPolicy.ASHA, SHIPPED, rng) == SHIPPED[0]
    assert rng.getstate() == state


def test_hyperband_draws_brackets_in_proportion_to_their_weights() -> None:
    scheduler = HyperbandScheduler(
        SPACE, 10, 200, maximize=True, seed=1729, policy=BracketPolicy.HYPERBAND
    )
    counts = Counter(scheduler.suggest(f"job-{i}").bracket for i in range(4900))
    # Weights 27:12:6:4 of 49: 2700, 1200, 600, 400 expected; 4 standard deviations of slack.
    for bracket, expected in [(0, 2700), (1, 1200), (2, 600), (3, 400)]:
        sd = (expected * (1 - expected / 4900)) ** 0.5  # binomial
        assert abs(counts[bracket] - expected) < 4 * sd, counts


def judge_at_10(policy: BracketPolicy) -> list[Decision]:
    """Four jobs report 0.9, 0.5, 0.95, 0.4 at MinResource = 10, in that order."""
    scheduler = HyperbandScheduler(SPACE, 10, 200, maximize=True, seed=3, policy=policy)
    decisions = []
    for i, value in enumerate([0.9, 0.5, 0.95, 0.4]):
        job = scheduler.suggest(f"job-{i}").job
        for resource in range(1, 10):
            assert scheduler.on_result(job, resource, value) is Decision.CONTINUE
        decisions.append(scheduler.on_result(job, 10, value))
    return decisions


def test_asha_judges_every_job_at_min_resource() -> None:
    # best 1 of 1, 1 of 2, 1 of 3, 2 of 4: 0.5 and 0.4 go at the first rung
    assert judge_at_10(BracketPolicy.ASHA) == [
        Decision.CONTINUE,
        Decision.STOP,
        Decision.CONTINUE,
        Decision.STOP,
    ]


def test_hyperband_spares_the_jobs_of_later_brackets_at_min_resource() -> None:
    scheduler = HyperbandScheduler(
        SPACE, 10, 200, maximize=True, seed=3, policy=BracketPolicy.HYPERBAND
    )
    later = next(s.job for i in range(100) if (s := scheduler.suggest(f"job-{i}")).bracket == 3)
    for resource in range(1, 200):  # bracket 3's only rung is MaxResource
        assert scheduler.on_result(later, resource, 0.0) is Decision.CONTINUE
    assert scheduler.on_result(later, 200, 0.0) is Decision.COMPLETE


def test_the_policy_changes_no_configuration() -> None:
    def drawn(policy: BracketPolicy) -> list[dict[str, float | int | str]]:
        scheduler = HyperbandScheduler(SPACE, 10, 200, maximize=True, seed=42, policy=policy)
        return [scheduler.suggest(f"job-{i}").hyperparameters for i in range(30)]

    assert drawn(BracketPolicy.ASHA) == drawn(BracketPolicy.HYPERBAND)


@pytest.mark.parametrize("policy", list(BracketPolicy))
def test_the_same_seed_gives_the_same_brackets_and_configurations(policy: BracketPolicy) -> None:
    def drawn(seed: int) -> list[tuple[int, dict[str, float | int | str]]]:
        scheduler = HyperbandScheduler(SPACE, 10, 200, maximize=True, seed=seed, policy=policy)
        suggestions = [scheduler.suggest(f"job-{i}") for i in range(30)]
        return [(s.bracket, s.hyperparameters) for s in suggestions]

    assert drawn(7) == drawn(7)
    assert drawn(7) != drawn(8)
