"""Several training job definitions in a spec (`definitions:`), planned.

A definition is the spec's training fields with what it changes, so that the common case,
one image and one search space at several cluster sizes, reads as one line per size:

    instance: {type: ml.m5.large, count: 1}
    definitions:
      - {name: hosts-1}
      - {name: hosts-2, instance: {count: 2}}

Each definition's `image` and `metrics` replace the spec's; its `instance` changes the
fields it gives; its `static_hyperparameters` and `ranges` are added to the spec's, and a
name given in one of them leaves the other (a range tuned at the top level can be static in
one definition, and the reverse). Channels, output, checkpoints, spot, the script and the
objective are the tuning job's, shared by every definition: AMT compares the definitions'
jobs on one objective.

Each definition is planned as a spec of its own (`effective_spec`), so every check of a
single definition applies to each, against its own image and ranges. A problem that every
definition has comes from the shared fields and is listed once, as they name it; one that
only some have is listed for each of those, after `definitions[i] (name):`. AMT's rules on
several definitions (`tuning.amt.definitions`) and the tuning job's Hyperband config,
which all definitions share, are checked on top.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from smtune.tuning.amt.definitions import Definition, definitions_problems
from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.plan import TuningPlan
from smtune.tuning.spec import DefinitionSpec, SpecError, TuningJobSpec

_API_NAME = re.compile(r"TrainingJobDefinitions\[(\d+)\]\.DefinitionName")
_API_INDEX = re.compile(r"TrainingJobDefinitions\[(\d+)\]")


def effective_spec(spec: TuningJobSpec, definition: DefinitionSpec) -> TuningJobSpec:
    """The single-definition spec that `definition` of `spec` stands for."""
    changed = definition.instance.model_dump(exclude_none=True)
    static = {k: v for k, v in spec.static_hyperparameters.items() if k not in definition.ranges}
    ranges = {k: r for k, r in spec.ranges.items() if k not in definition.static_hyperparameters}
    return spec.model_copy(
        update={
            "image": definition.image or spec.image,
            "instance": spec.instance.model_copy(update=changed),
            "static_hyperparameters": {**static, **definition.static_hyperparameters},
            "ranges": {**ranges, **definition.ranges},
            "metrics": spec.metrics if definition.metrics is None else definition.metrics,
            "definitions": None,
        }
    )


def join(
    spec: TuningJobSpec, outcomes: Sequence[TuningPlan | SpecError], source: str
) -> TuningPlan:
    """The plan of a spec with `definitions`, from each definition's own outcome (its plan,
    or the SpecError its `effective_spec` was refused with), in the spec's order. A SpecError
    lists every problem of every definition at once; botocore's check of the joined request
    is the planner's."""
    given = spec.definitions or []
    problems = _amt_rules(spec, given)
    ready = [o for o in outcomes if isinstance(o, TuningPlan)]
    found = [o.problems if isinstance(o, SpecError) else [] for o in outcomes]
    problems += _attributed(given, found)
    if len(ready) == len(given) and ready:
        problems += _shared_problems(given, ready)
    if problems or len(ready) != len(given) or not ready:
        raise SpecError(source, problems)
    definitions = tuple(
        replace(p.definition, name=d.name) for p, d in zip(ready, given, strict=True)
    )
    return replace(
        ready[0],
        definitions=definitions,
        warnings=tuple(_attributed(given, [list(p.warnings) for p in ready])),
    )


def _amt_rules(spec: TuningJobSpec, given: Sequence[DefinitionSpec]) -> list[str]:
    """AMT's rules on several definitions, in the spec's terms where it has them."""
    rules = [Definition(d.name, d.instance.count or spec.instance.count, "") for d in given]
    # Early stopping and warm start (when the spec has it) as the tuning job has them.
    early = EarlyStopping.AUTO if spec.early_stopping == "Auto" else EarlyStopping.OFF
    warm_start = getattr(spec, "warm_start", None) is not None
    found = definitions_problems(rules, warm_start, early)
    # In the spec's terms: definitions[i].name for TrainingJobDefinitions[i].DefinitionName.
    named = [
        _API_INDEX.sub(r"definitions[\1]", _API_NAME.sub(r"definitions[\1].name", p)) for p in found
    ]
    return [p if p.startswith("definitions[") else f"definitions: {p}" for p in named]


def _attributed(given: Sequence[DefinitionSpec], found: Sequence[Sequence[str]]) -> list[str]:
    """Every definition's problems once: those all have, as they are (the shared fields'),
    the others after the definition that has them."""
    common = set(found[0]).intersection(*found[1:]) if found else set()
    listed = [p for p in found[0] if p in common] if found else []
    for index, (definition, problems) in enumerate(zip(given, found, strict=True)):
        listed += [
            f"definitions[{index}] ({definition.name}): {p}" for p in problems if p not in common
        ]
    return listed


def _shared_problems(given: Sequence[DefinitionSpec], plans: Sequence[TuningPlan]) -> list[str]:
    """What all definitions must share: Hyperband's config (the tuning job's) and which way
    the objective is better (AMT compares their jobs on it)."""
    problems = []
    configs = {p.hyperband for p in plans}
    if len(configs) > 1:
        each = ", ".join(
            f"{d.name}: {p.hyperband.min_resource}..{p.hyperband.max_resource}"
            for d, p in zip(given, plans, strict=True)
            if p.hyperband is not None
        )
        problems.append(
            f"strategy: the definitions give Hyperband different resources ({each}): "
            "MinResource and MaxResource are the tuning job's, one for every definition: "
            "set strategy.max_resource (or the same epochs in every definition)"
        )
    directions = {p.objective.direction for p in plans}
    if len(directions) > 1:
        each = ", ".join(
            f"{d.name}: {p.objective.direction.value}" for d, p in zip(given, plans, strict=True)
        )
        problems.append(
            f"objective.type: the definitions' {plans[0].objective.metric} disagree on which "
            f"way is better ({each}): set objective.type"
        )
    return problems
