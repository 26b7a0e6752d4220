"""Several training job definitions (TrainingJobDefinitions): AMT's rules, as a pure check.

The rules, with their sources:
- botocore: TrainingJobDefinitions holds 1 to 10 HyperParameterTrainingJobDefinition; the
  request takes TrainingJobDefinition (one) or TrainingJobDefinitions (several), not both;
- botocore: DefinitionName is 1 to 64 characters matching [a-zA-Z0-9](-*[a-zA-Z0-9]){0,63};
- Developer Guide, "Create a Hyperparameter Optimization Tuning Job for One or More
  Algorithms (Console)": "Provide a unique name for the training definition"; so with several
  definitions each needs a name, and no two the same (we compare case-insensitively, as AWS
  does for job names, so that names never clash in local paths either);
- the same page: "Warm start and early stopping are available only when you're tuning a
  single algorithm": no WarmStartConfig and no TrainingJobEarlyStoppingType Auto with
  several definitions.
On strategies: the same page offers Random, Bayesian and Hyperband for tuning one or more
algorithms, and no page we found forbids any strategy with several definitions, Grid included;
so this check refuses none (a rule we cannot cite would be a guess).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from smtune.tuning.amt.strategy import EarlyStopping

MAX_DEFINITIONS = 10  # botocore: HyperParameterTrainingJobDefinitions max 10
NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")  # botocore: DefinitionName pattern
MAX_NAME = 64  # botocore: DefinitionName max 64


@dataclass(frozen=True)
class Definition:
    """One training job definition, as far as these rules care.

    name: DefinitionName; None when absent (allowed only when it is the only definition).
    """

    name: str | None
    instance_count: int
    instance_type: str


def definitions_problems(
    definitions: Sequence[Definition], warm_start: bool, early_stopping: EarlyStopping
) -> list[str]:
    """Every reason `definitions` break AMT's rules, all at once."""
    found = []
    if not 1 <= len(definitions) <= MAX_DEFINITIONS:
        found.append(
            f"TrainingJobDefinitions has {len(definitions)} definitions: must be 1 to "
            f"{MAX_DEFINITIONS}"
        )
    seen: dict[str, int] = {}
    for index, definition in enumerate(definitions):
        where = f"TrainingJobDefinitions[{index}].DefinitionName"
        name = definition.name
        if name is None:
            if len(definitions) > 1:
                found.append(f"{where} is missing: with several definitions each needs a name")
            continue
        if len(name) > MAX_NAME or not NAME.fullmatch(name):
            found.append(
                f"{where}={name!r}: must be 1 to {MAX_NAME} letters, digits and inner hyphens "
                "(botocore: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,63})"
            )
        first = seen.setdefault(name.lower(), index)
        if first != index:
            found.append(
                f"{where}={name!r}: the name of TrainingJobDefinitions[{first}] too; "
                "definition names must be unique"
            )
        if definition.instance_count < 1:
            found.append(
                f"TrainingJobDefinitions[{index}].ResourceConfig.InstanceCount="
                f"{definition.instance_count}: must be >= 1"
            )
    if len(definitions) > 1:
        if warm_start:
            found.append(
                f"WarmStartConfig with {len(definitions)} training job definitions: warm "
                "start is available only when tuning a single definition"
            )
        if early_stopping is EarlyStopping.AUTO:
            found.append(
                f"TrainingJobEarlyStoppingType=Auto with {len(definitions)} training job "
                "definitions: early stopping is available only when tuning a single definition"
            )
    return found
