"""Metric lines a tuning job reads, printed once per iteration by global rank 0 only.

Declare each metric once; the same `MetricSpec` formats its field of the printed line and
builds the regex of the tuning job's MetricDefinition, so the two cannot drift apart:

    ACCURACY = MetricSpec("validation:accuracy", "validation-accuracy", Direction.MAXIMIZE)
    report(3, {ACCURACY: 0.97})  # rank 0 prints "[3]<TAB>validation-accuracy:0.97"
    definitions([ACCURACY])  # [{"Name": "validation:accuracy", "Regex": "..."}]

Only rank 0 prints: AMT Hyperband counts an objective's lines as the training resource, so
a line printed by every worker makes it stop jobs early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TextIO

from smtune.entrypoints.contract.metrics import Direction, MetricLine, MetricSpec, cloudwatch_form
from smtune.entrypoints.toolkit import distributed

__all__ = ["Direction", "MetricSpec", "cloudwatch_form", "definitions", "format_line", "report"]


def format_line(iteration: int, values: Mapping[MetricSpec, float]) -> str:
    """`[iteration]` then one `key:value` field per metric, tab-separated, in `values`' order."""
    printer, named = _line(iteration, values)
    return printer.format(iteration, named)


def report(
    iteration: int, values: Mapping[MetricSpec, float], stream: TextIO | None = None
) -> bool:
    """Print the metric line of `iteration` (an epoch, a round) on global rank 0, flushed.

    Every rank may call it; only rank 0 (`distributed.rank()`) prints. Call it once per
    iteration, with every value the line should carry.

    Args:
        iteration: Counts from 0; the `[n]` the regexes look for.
        values: Each metric's value this iteration.
        stream: Where to print; stdout by default, which SageMaker sends to CloudWatch.

    Returns:
        Whether this process printed the line.
    """
    printer, named = _line(iteration, values)  # on every rank: a bad call fails everywhere
    if not distributed.is_leader():
        return False
    printer.emit(iteration, named, stream)
    return True


def definitions(specs: Iterable[MetricSpec]) -> list[dict[str, str]]:
    """The MetricDefinitions of a training or tuning job: a name and a regex per metric."""
    return [spec.definition() for spec in specs]


def _line(
    iteration: int, values: Mapping[MetricSpec, float]
) -> tuple[MetricLine, dict[str, float]]:
    wrong = [spec for spec in values if not isinstance(spec, MetricSpec)]
    if wrong:
        raise TypeError(f"metrics {wrong!r} must be MetricSpec objects, the keys of `values`")
    if iteration < 0:
        raise ValueError(f"iteration={iteration} is out of range: must be iteration >= 0")
    return MetricLine(values), {spec.name: value for spec, value in values.items()}
