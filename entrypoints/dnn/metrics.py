"""The metrics the DNN image prints, once per epoch from global rank 0:

    [3]<TAB>train-loss:0.05<TAB>validation-loss:0.04<TAB>validation-accuracy:0.987

`[epoch]` counts from 0, as XGBoost counts rounds; AMT Hyperband counts these lines.
"""

from __future__ import annotations

from collections.abc import Mapping

from smtune.entrypoints.contract.metrics import Direction, MetricSpec

TRAIN_LOSS = MetricSpec("train:loss", "train-loss", Direction.MINIMIZE)
VALIDATION_LOSS = MetricSpec("validation:loss", "validation-loss", Direction.MINIMIZE)
VALIDATION_ACCURACY = MetricSpec("validation:accuracy", "validation-accuracy", Direction.MAXIMIZE)
METRIC_SPECS = (TRAIN_LOSS, VALIDATION_LOSS, VALIDATION_ACCURACY)


def emitted(static: Mapping[str, str]) -> tuple[MetricSpec, ...]:
    return METRIC_SPECS
