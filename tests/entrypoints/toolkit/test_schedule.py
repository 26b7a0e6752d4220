"""The learning rate: scaled with the workers, reached by a linear warm-up from the base rate."""

from __future__ import annotations

import pytest

from smtune.entrypoints.toolkit.schedule import LRScaling, LRSchedule, warmup_steps


class Optimizer:
    """What `apply` needs of a torch optimizer."""

    def __init__(self, groups: int) -> None:
        self.param_groups: list[dict[str, object]] = [{"lr": 0.0} for _ in range(groups)]


def test_linear_scaling_warms_up_from_the_base_rate_to_world_times_it() -> None:
    schedule = LRSchedule(0.1, workers=4, scaling=LRScaling.LINEAR, warmup_steps=10)
    rates = [schedule.at(step) for step in range(12)]
    assert rates[0] == pytest.approx(0.1 + 0.3 / 10)
    assert rates[9] == pytest.approx(0.4) and rates[11] == pytest.approx(0.4)
    assert rates == sorted(rates)


@pytest.mark.parametrize(
    ("scaling", "peak"), [(LRScaling.NONE, 0.1), (LRScaling.LINEAR, 0.4), (LRScaling.SQRT, 0.2)]
)
def test_without_warm_up_every_step_runs_at_the_peak(scaling: LRScaling, peak: float) -> None:
    schedule = LRSchedule(0.1, workers=4, scaling=scaling)
    assert schedule.peak == pytest.approx(peak)
    assert schedule.at(0) == schedule.at(1000) == schedule.peak


def test_a_warm_up_in_epochs_is_counted_in_steps() -> None:
    assert warmup_steps(1.5, steps_per_epoch=10) == 15
    assert warmup_steps(0, steps_per_epoch=10) == 0


def test_apply_sets_every_parameter_group() -> None:
    optimizer = Optimizer(groups=2)
    schedule = LRSchedule(0.1, workers=2, scaling=LRScaling.LINEAR, warmup_steps=2)
    assert schedule.apply(optimizer, 0) == pytest.approx(0.15)
    assert [g["lr"] for g in optimizer.param_groups] == [schedule.at(0)] * 2


def test_the_scaling_is_spelled_as_the_hyperparameter_is() -> None:
    assert [LRScaling(v) for v in ("none", "linear", "sqrt")] == list(LRScaling)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"base_lr": 0.0}, "base_lr=0.0 is out of range: must be base_lr > 0"),
        ({"workers": 0}, "workers=0 is out of range: must be workers >= 1"),
        ({"warmup_steps": -1}, "warmup_steps=-1 is out of range: must be warmup_steps >= 0"),
    ],
)
def test_bad_values_are_refused_with_the_rule(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LRSchedule(**{"base_lr": 0.1, **arguments})  # type: ignore[arg-type]
