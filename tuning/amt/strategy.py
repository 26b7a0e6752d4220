"""What every search strategy's scheduler offers the runner, and the objective's ordering.

The Hyperband scheduler set the interface (`suggest`, `on_result`, `on_end`, `resource`);
Random and Grid follow it, so the rehearsal drives any strategy through one loop. They reuse
Hyperband's `Decision` and `Suggestion` values rather than a second copy of each: a strategy
without brackets puts every job in bracket 0, the only one it has.
"""

from __future__ import annotations

import enum
import math


class Strategy(enum.Enum):
    """HyperParameterTuningJobConfig.Strategy (botocore: HyperParameterTuningJobStrategyType)."""

    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    HYPERBAND = "Hyperband"
    GRID = "Grid"


class EarlyStopping(enum.Enum):
    """HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType (botocore: Off | Auto)."""

    OFF = "Off"
    AUTO = "Auto"


def score(value: float | None, maximize: bool) -> float:
    """`value` on a scale where larger is better; NaN or no value is the worst of all."""
    if value is None or math.isnan(value):
        return -math.inf
    return value if maximize else -value


def strategy_problems(strategy: Strategy, early_stopping: EarlyStopping) -> list[str]:
    """Every reason the strategy and TrainingJobEarlyStoppingType do not go together.

    botocore (HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType): "Because the
    Hyperband strategy has its own advanced internal early stopping mechanism,
    TrainingJobEarlyStoppingType must be OFF to use Hyperband."
    """
    if strategy is Strategy.HYPERBAND and early_stopping is EarlyStopping.AUTO:
        return [
            "TrainingJobEarlyStoppingType=Auto with Strategy=Hyperband: must be Off, Hyperband "
            "stops jobs early itself"
        ]
    return []
