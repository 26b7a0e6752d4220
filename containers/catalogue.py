"""The images smtune builds: what each runs, what it prints, what it accepts."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from entrypoints.contract.metrics import MetricSpec


@dataclass(frozen=True)
class ImageSpec:
    """One training image.

    Args:
        name: The catalogue name, e.g. `xgboost`; also the image repository's name.
        module: The Python module the image's `train` command runs.
        dockerfile: Path of its Dockerfile, relative to the repository root.
    """

    name: str
    module: str
    dockerfile: str

    @property
    def metric_specs(self) -> tuple[MetricSpec, ...]:
        """The metrics it prints, from `<module>.metrics.METRIC_SPECS`, loaded on demand."""
        return tuple(importlib.import_module(f"{self.module}.metrics").METRIC_SPECS)


IMAGES = {
    "xgboost": ImageSpec("xgboost", "entrypoints.xgboost", "docker/xgboost/Dockerfile"),
}


def image(name: str) -> ImageSpec:
    try:
        return IMAGES[name]
    except KeyError:
        raise ValueError(
            f"image={name!r} is not in the catalogue: must be one of {', '.join(IMAGES)}"
        ) from None
