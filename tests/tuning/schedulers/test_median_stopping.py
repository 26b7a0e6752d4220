"""The median rule of early stopping Auto, worked by hand."""

from __future__ import annotations

import math

import pytest

from smtune.tuning.schedulers.median_stopping import MedianStoppingRule


def ended(rule: MedianStoppingRule, job: str, values: list[float]) -> None:
    for step, value in enumerate(values, start=1):
        rule.observe(job, step, value)
    rule.end(job)


def test_the_first_job_and_steps_no_earlier_job_reached_go_on() -> None:
    rule = MedianStoppingRule(maximize=True)
    assert rule.observe("a", 1, -100.0) is False
    ended(rule, "b", [0.9])
    # b reported step 1 only; its running average at step 2 is over resources <= 2: 0.9
    assert rule.observe("d", 2, 0.8) is True
    assert rule.observe("e", 2, 0.9) is False


def test_minimizing_stops_a_job_above_the_median_of_running_averages() -> None:
    rule = MedianStoppingRule(maximize=False)
    ended(rule, "a", [1.0, 0.8, 0.6])  # running averages 1.0, 0.9, 0.8
    ended(rule, "b", [2.0, 1.0, 0.9])  # 2.0, 1.5, 1.3
    ended(rule, "c", [0.5, 0.5, 0.5])  # 0.5, 0.5, 0.5
    # medians by step: 1.0, 0.9, 0.8
    assert rule.observe("d", 1, 1.0) is False  # a tie goes on
    assert rule.observe("d", 2, 0.85) is False
    assert rule.observe("d", 3, 0.81) is True


def test_nan_is_the_worst_value_and_a_previous_nan_drags_its_average_down() -> None:
    rule = MedianStoppingRule(maximize=True)
    ended(rule, "a", [math.nan, 0.9])
    assert rule.observe("b", 1, -1e9) is False  # a's average is the worst of all
    assert rule.observe("c", 1, math.nan) is False  # the worst against the worst: a tie
    ended(rule, "e", [0.5])  # median of -inf and 0.5 is still -inf: NaN ties
    assert rule.observe("f", 1, math.nan) is False
    ended(rule, "g", [0.6])  # median of -inf, 0.5, 0.6 is 0.5
    assert rule.observe("h", 1, math.nan) is True
    assert rule.observe("i", 1, 0.5) is False


def test_a_warm_start_parent_is_a_previous_job() -> None:
    rule = MedianStoppingRule(maximize=True)
    rule.add_previous("parent/1", [(1, 0.7), (3, 0.9)])
    assert rule.observe("a", 2, 0.69) is True
    with pytest.raises(ValueError, match="already known"):
        rule.add_previous("parent/1", [])
    rule.end("a")
    with pytest.raises(ValueError, match="job 'a' already ended"):
        rule.observe("a", 3, 0.5)
