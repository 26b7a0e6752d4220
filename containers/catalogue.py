"""The images smtune builds: what each runs, what it prints, what it accepts."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smtune.containers.errors import BadInput

if TYPE_CHECKING:  # the CLI imports the catalogue at start-up: keep it light
    from smtune.entrypoints.contract.hyperparameters import HyperparameterSchema
    from smtune.entrypoints.contract.metrics import MetricSpec


@dataclass(frozen=True)
class ImageSpec:
    """One training image.

    Args:
        name: The catalogue name, e.g. `xgboost`; also the image repository's name.
        module: The Python module the image's `train` command runs.
        dockerfile: Path of its Dockerfile, relative to the repository root; None for an
            entrypoint that has no image of its own.
        resource: The hyperparameter that sets how many metric lines (iterations) a job
            prints: AMT Hyperband's resource.
    """

    name: str
    module: str
    dockerfile: str | None
    resource: str

    @property
    def metric_specs(self) -> tuple[MetricSpec, ...]:
        """The metrics it prints, from `<module>.metrics.METRIC_SPECS`, loaded on demand."""
        return tuple(importlib.import_module(f"{self.module}.metrics").METRIC_SPECS)

    def emitted_metrics(self, static: Mapping[str, str]) -> tuple[MetricSpec, ...]:
        """The metrics a job with these static hyperparameters prints."""
        return tuple(importlib.import_module(f"{self.module}.metrics").emitted(static))

    @property
    def hyperparameters(self) -> HyperparameterSchema:
        """The hyperparameters the image accepts, with their rules."""
        schema: HyperparameterSchema = importlib.import_module(
            f"{self.module}.hyperparameters"
        ).SCHEMA
        return schema

    @property
    def repository(self) -> str:
        return f"smtune-{self.name}"


IMAGES = {
    "xgboost": ImageSpec(
        "xgboost", "smtune.entrypoints.xgboost", "docker/xgboost/Dockerfile", resource="num_round"
    ),
    "dnn": ImageSpec(
        "dnn", "smtune.entrypoints.dnn", "docker/pytorch/Dockerfile", resource="epochs"
    ),
    # A learning curve from its hyperparameters: tests tuners in seconds. Runs as processes.
    "synthetic": ImageSpec(
        "synthetic", "smtune.entrypoints.synthetic", dockerfile=None, resource="epochs"
    ),
}


def image(name: str) -> ImageSpec:
    try:
        return IMAGES[name]
    except KeyError:
        raise BadInput(
            f"image={name!r} is not in the catalogue: must be one of {', '.join(IMAGES)}"
        ) from None
