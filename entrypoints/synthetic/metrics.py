"""The synthetic trainer prints `[epoch]<TAB>validation-score:<value>`, larger is better."""

from collections.abc import Mapping

from smtune.entrypoints.contract.metrics import Direction, MetricSpec

SCORE = MetricSpec("validation:score", "validation-score", Direction.MAXIMIZE)
METRIC_SPECS = (SCORE,)


def emitted(static: Mapping[str, str]) -> tuple[MetricSpec, ...]:
    return METRIC_SPECS
