"""The metrics the XGBoost image prints: `<channel>-<metric>` per round, as XGBoost names them."""

from __future__ import annotations

from entrypoints.contract.metrics import Direction, MetricSpec
from entrypoints.xgboost.hyperparameters import EVAL_METRICS

CHANNELS = ("train", "validation")


def metric_spec(channel: str, metric: str) -> MetricSpec:
    """`validation:auc` is printed as `validation-auc:0.78`, SageMaker's built-in naming."""
    direction = Direction.MAXIMIZE if EVAL_METRICS[metric] else Direction.MINIMIZE
    return MetricSpec(name=f"{channel}:{metric}", key=f"{channel}-{metric}", direction=direction)


METRIC_SPECS: tuple[MetricSpec, ...] = tuple(
    metric_spec(channel, metric) for channel in CHANNELS for metric in EVAL_METRICS
)
