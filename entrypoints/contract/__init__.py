"""The SageMaker training-container contract: paths, config files, errors, lifecycle, metrics."""

from smtune.entrypoints.contract.errors import (
    AlgorithmError,
    PlatformError,
    TrainingError,
    UserError,
)
from smtune.entrypoints.contract.metrics import Direction, MetricLine, MetricSpec
from smtune.entrypoints.contract.paths import ContainerPaths

__all__ = [
    "AlgorithmError",
    "ContainerPaths",
    "Direction",
    "MetricLine",
    "MetricSpec",
    "PlatformError",
    "TrainingError",
    "UserError",
]
