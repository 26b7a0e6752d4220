"""hyperparameters.json of a script-mode job: SageMaker's `sagemaker_*` settings and the script's.

The SDK JSON-encodes every value (`"\\"train.py\\""`, `"true"`, `"0.1"`); sagemaker-training
decodes each one that parses as JSON and keeps the others as text, and so does this module.
The script's hyperparameters are every other name except `_*` (AMT's
`_tuning_objective_metric` and other names the platform adds for itself); they reach the
script as `--name value`, so each name must be usable as a command-line flag.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smtune.entrypoints.contract.config import read_hyperparameters_object
from smtune.entrypoints.contract.errors import UserError
from smtune.entrypoints.contract.paths import ContainerPaths

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
REGION = "sagemaker_region"
LOG_LEVEL = "sagemaker_container_log_level"
JOB_NAME = "sagemaker_job_name"
SAGEMAKER_PREFIX = "sagemaker_"
#: sagemaker-training's own settings (params.SAGEMAKER_HYPERPARAMETERS); every other
#: `sagemaker_*` name is a framework parameter (SM_FRAMEWORK_PARAMS), e.g. a distribution.
TOOLKIT_SETTINGS = (
    PROGRAM,
    SUBMIT_DIRECTORY,
    "sagemaker_enable_cloudwatch_metrics",
    REGION,
    LOG_LEVEL,
    JOB_NAME,
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
# As a flag `--name`: a letter first (a leading '-' would read as another option), then
# letters, digits, '_', '.', '-'; no space or '=' that would split or join arguments.
_FLAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,255}")


def decode(value: Any) -> Any:
    """A hyperparameter's value as sagemaker-training reads it: JSON when it parses, else text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_raw(paths: ContainerPaths) -> dict[str, Any]:
    """Every name in hyperparameters.json, values decoded; {} without the file."""
    data = read_hyperparameters_object(paths)
    return {str(name): decode(value) for name, value in data.items()}


def requests_script(paths: ContainerPaths) -> bool:
    """The job names a script to run (`sagemaker_program`): script mode."""
    return PROGRAM in read_raw(paths)


def flag_name_problem(name: str) -> str | None:
    """Why the hyperparameter `name` cannot reach a script as `--name`, or None."""
    if _FLAG_NAME.fullmatch(name):
        return None
    return (
        f"hyperparameter name {name!r} cannot be a command-line flag of the script: must start "
        "with a letter and hold only A-Z, a-z, 0-9, '_', '.' and '-' (at most 256 characters)"
    )


def _argument(value: Any) -> str:
    # As sagemaker-training's mapping.to_cmd_args: a mapping as k=v,k=v; anything else str(),
    # so `true` arrives as "True" and `0.1` as "0.1", exactly as in SageMaker's containers.
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


@dataclass(frozen=True)
class ScriptSettings:
    """What hyperparameters.json says about the script and how to run it.

    Args:
        program: `sagemaker_program`: the entry point, relative to the code folder.
        submit_directory: `sagemaker_submit_directory`: where the code comes from, if given.
        log_level: `sagemaker_container_log_level` (logging's numbers; INFO by default).
        job_name: `sagemaker_job_name`, if given.
        region: `sagemaker_region`, if given.
        framework_params: The other `sagemaker_*` names (a distribution's, for instance).
        hyperparameters: The script's own, values decoded.
    """

    program: str
    submit_directory: str | None = None
    log_level: Any = logging.INFO
    job_name: str | None = None
    region: str | None = None
    framework_params: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> ScriptSettings:
        """From decoded hyperparameters.json; a UserError names a bad program or flag."""
        program = raw.get(PROGRAM)
        if not isinstance(program, str) or not program:
            raise UserError(
                f"{PROGRAM}={program!r} is not allowed: must name the script to run, relative "
                "to the source directory, e.g. train.py"
            )
        submit = raw.get(SUBMIT_DIRECTORY)
        hyperparameters = {
            name: value
            for name, value in raw.items()
            if not name.startswith((SAGEMAKER_PREFIX, "_")) and name not in TOOLKIT_SETTINGS
        }
        for name in sorted(hyperparameters):
            problem = flag_name_problem(name)
            if problem is not None:
                raise UserError(problem)
        return cls(
            program=program,
            submit_directory=None if submit in (None, "") else str(submit),
            log_level=raw.get(LOG_LEVEL, logging.INFO),
            job_name=None if raw.get(JOB_NAME) is None else str(raw[JOB_NAME]),
            region=None if raw.get(REGION) is None else str(raw[REGION]),
            framework_params={
                name: value
                for name, value in raw.items()
                if name.startswith(SAGEMAKER_PREFIX) and name not in TOOLKIT_SETTINGS
            },
            hyperparameters=hyperparameters,
        )

    @property
    def arguments(self) -> list[str]:
        """The script's command-line arguments: `--name value` per hyperparameter, by name
        (`-n value` for a one-letter name), as sagemaker-training passes them."""
        args: list[str] = []
        for name in sorted(self.hyperparameters):
            args += [f"--{name}" if len(name) > 1 else f"-{name}"]
            args += [_argument(self.hyperparameters[name])]
        return args
