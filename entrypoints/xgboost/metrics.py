"""The metrics the XGBoost image prints: `<channel>-<metric>` per round, as XGBoost names them."""

from __future__ import annotations

from collections.abc import Mapping

from smtune.entrypoints.contract.metrics import Direction, MetricSpec
from smtune.entrypoints.xgboost.hyperparameters import EVAL_METRICS, SCHEMA, eval_metrics

CHANNELS = ("train", "validation")


def metric_spec(channel: str, metric: str) -> MetricSpec:
    """`validation:auc` is printed as `validation-auc:0.78`, SageMaker's built-in naming."""
    direction = Direction.MAXIMIZE if EVAL_METRICS[metric] else Direction.MINIMIZE
    return MetricSpec(name=f"{channel}:{metric}", key=f"{channel}-{metric}", direction=direction)


METRIC_SPECS: tuple[MetricSpec, ...] = tuple(
    metric_spec(channel, metric) for channel in CHANNELS for metric in EVAL_METRICS
)


def emitted(static: Mapping[str, str]) -> tuple[MetricSpec, ...]:
    """The metrics a job prints: each eval metric (or the objective's default) per channel."""
    known = {k: v for k, v in static.items() if k in ("eval_metric", "objective")}
    values = SCHEMA.parse({"num_round": "1", **known})
    return tuple(metric_spec(c, m) for c in CHANNELS for m in eval_metrics(values))
