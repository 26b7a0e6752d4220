"""What the synthetic trainer accepts: `epochs` (the resource) and two knobs of its curve."""

from smtune.entrypoints.contract.errors import ERROR_KINDS
from smtune.entrypoints.contract.hyperparameters import (
    Boolean,
    Categorical,
    Continuous,
    HyperparameterSchema,
    Integer,
    Interval,
)

SCHEMA = HyperparameterSchema(
    [
        Integer("epochs", required=True, interval=Interval(1, 20_000)),
        # The plateau the curve rises to peaks at x = 0.3, y = 3: a known best for tests.
        Continuous("x", default=0.5, interval=Interval(0, 1)),
        Continuous("y", default=1.0, interval=Interval(0, 10)),
        Continuous("seconds_per_epoch", default=0.0, interval=Interval(0, 60)),
        Integer("fail_at_epoch", default=0, interval=Interval(0)),  # 0: never fail
        # The error it fails with: a PlatformError is the platform's, which AMT retries.
        Categorical("fail_with", default="AlgorithmError", choices=tuple(ERROR_KINDS)),
        # 0: fail every attempt; N: only the job's first N attempts (see __main__.attempt).
        Integer("fail_attempts", default=0, interval=Interval(0)),
        # False prints the score in a form of its own, which no MetricDefinition reads: the
        # mistake a rehearsal must catch before SageMaker runs every job unjudged.
        Boolean("metric_lines", default=True),
        # True makes every host print metric lines: the duplicate AMT miscounts.
        Boolean("metrics_from_every_host", default=False),
    ]
)
