"""Where SageMaker puts things inside a training container, as a value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/opt/ml")
BASE_DIR_VARIABLE = "SAGEMAKER_BASE_DIR"


@dataclass(frozen=True)
class ContainerPaths:
    """The /opt/ml tree of one host.

    A value rather than module globals, so that one process can lay out trees for many hosts
    (local mode) and tests can point it anywhere.
    """

    root: Path = DEFAULT_ROOT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ContainerPaths:
        """/opt/ml, unless SAGEMAKER_BASE_DIR says otherwise (as sagemaker-training honours)."""
        environ = os.environ if environ is None else environ
        return cls(Path(environ.get(BASE_DIR_VARIABLE, DEFAULT_ROOT)))

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def config(self) -> Path:
        return self.input / "config"

    @property
    def hyperparameters(self) -> Path:
        return self.config / "hyperparameters.json"

    @property
    def resource_config(self) -> Path:
        return self.config / "resourceconfig.json"

    @property
    def input_data_config(self) -> Path:
        return self.config / "inputdataconfig.json"

    @property
    def checkpoint_config(self) -> Path:
        return self.config / "checkpointconfig.json"

    @property
    def data(self) -> Path:
        return self.input / "data"

    def channel(self, name: str) -> Path:
        return self.data / name

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def code(self) -> Path:
        """A script's code in script mode (SageMaker's framework containers use /opt/ml/code)."""
        return self.root / "code"

    @property
    def default_checkpoints(self) -> Path:
        return self.root / "checkpoints"
