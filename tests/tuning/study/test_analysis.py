"""Rank correlation, rung trust, the recommended MinResource and the chosen size."""

from __future__ import annotations

import pytest

from smtune.tuning.study.analysis import (
    candidates,
    choose,
    improvement_percent,
    ranks,
    recommend,
    rung_trust,
    spearman,
)
from smtune.tuning.study.results import BaselineRun, Curve, TunedRun


def test_ranks_share_ties() -> None:
    assert ranks([10.0, 30.0, 20.0, 30.0]) == [1.0, 3.5, 2.0, 3.5]


def test_spearman_matches_its_textbook_values() -> None:
    assert spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # d = (0, 0, 1, -1, 0): 1 - 6·2 / (5·24) = 0.9
    assert spearman([1, 2, 3, 4, 5], [1, 2, 4, 3, 5]) == pytest.approx(0.9)
    assert spearman([1, 2], [1, 2]) is None  # too few pairs
    assert spearman([1, 1, 1], [1, 2, 3]) is None  # no ranking at all


def curve(job: str, values: list[float]) -> Curve:
    return Curve(job, tuple((i + 1, v) for i, v in enumerate(values)))


def tuned(hosts: int, best: float | None, curves: tuple[Curve, ...] = ()) -> TunedRun:
    return TunedRun(hosts, best, "job", 10, 30, 10.0, 30.0, 5.0, {"Completed": 1}, curves)


def test_rung_trust_pairs_each_rung_with_max_resource_over_jobs_that_reached_both() -> None:
    # At 1 the order is reversed, at 3 (MaxResource 9 / 3) it is the final one.
    reached = [curve(f"j{i}", [1 - i / 10] + [0.5] + [i / 10] * 7) for i in range(4)]
    stopped = curve("s", [0.99, 0.98, 0.97])  # never reached MaxResource: not counted
    check = tuned(1, 0.9, tuple(curve(f"c{i}", [1 - i / 10] * 2 + [i / 10] * 7) for i in (5, 6)))
    trust = rung_trust([tuned(2, 0.5, (*reached, stopped))], check, (1, 3, 9), 9)
    assert candidates((1, 3, 9), 9) == (1, 3)
    assert [(t.rung, t.from_tuning, t.from_check) for t in trust] == [(1, 4, 2), (3, 4, 2)]
    assert trust[0].rho == pytest.approx(-1.0)
    assert trust[1].rho == pytest.approx(1.0)
    advice = recommend(trust, 1, 9)
    assert advice.min_resource == 3
    assert advice.reason.startswith("use MinResource 3: the first rung whose ranks agree")
    assert "4 tuning jobs that got there, 2 run to MaxResource for this check" in advice.reason
    assert "at the spec's MinResource 1 rho = -1.00" in advice.reason


def test_too_few_configurations_recommend_nothing_new() -> None:
    trust = rung_trust([tuned(1, 0.5, (curve("a", [0.1, 0.2, 0.3]),))], None, (1, 3), 3)
    advice = recommend(trust, 1, 3)
    assert advice.min_resource == 1 and advice.reason.startswith("not measured: at most 1")


def baseline(hosts: int, wall: float) -> BaselineRun:
    return BaselineRun(hosts, "Completed", 0.6, wall, wall * hosts, Curve("b", ()))


def test_the_choice_is_the_fastest_size_within_tolerance_of_the_best() -> None:
    baselines = [baseline(1, 60), baseline(2, 35), baseline(4, 20)]
    runs = [tuned(1, 0.790), tuned(2, 0.787), tuned(4, 0.770)]
    choice = choose(baselines, runs, maximize=True, tolerance=0.005, objective="auc")
    assert choice is not None and choice.hosts == 2
    assert choice.reason == (
        "2 hosts: the fastest full training (35.0 s) among the sizes whose tuned auc is within "
        "0.005 of the best (0.7900 at 1 host); its own is 0.7870; 4 host(s) fall more than "
        "0.005 short"
    )
    lower = choose(baselines, runs, maximize=False, tolerance=0.0, objective="loss")
    assert lower is not None and lower.hosts == 4  # smaller is better: 4 hosts is best
    assert choose([], runs, True, 0.0, "auc") is None


def test_improvement_is_signed_by_direction() -> None:
    assert improvement_percent(0.63, 0.78, maximize=True) == pytest.approx(23.8095, rel=1e-4)
    assert improvement_percent(0.5, 0.4, maximize=False) == pytest.approx(20.0)
    assert improvement_percent(None, 0.4, maximize=False) is None
