"""Warm start: AMT's rules for a tuning job that starts from up to five earlier ones.

The rules, from botocore's HyperParameterTuningJobWarmStartConfig and the Developer Guide's
"Run a Warm Start Hyperparameter Tuning Job" (section "Warm Start Tuning Restrictions"):
- 1 to 5 parents (botocore: ParentHyperParameterTuningJobs min 1, max 5), each in a terminal
  state: Completed, Stopped or Failed;
- the same objective metric as every parent (we also require the same direction);
- the same total number of static plus tunable hyperparameters as every parent; a
  hyperparameter may move between static and tunable;
- the type of each hyperparameter (continuous, integer, categorical) unchanged;
- at most 10 changes: a parent's tunable that becomes static counts one per categorical value
  (one for a continuous or integer range); a static whose value changes counts 2 (the guide's
  example: red -> blue is 2 changes);
- IdenticalDataAndAlgorithm: the same input data and training image as the parents;
  TransferLearning may change both;
- the training jobs of every parent count against the 500 training jobs of a tuning job;
- warm start is not recursive: a parent's own parents teach the child nothing.
Our reading beyond the text: the set of hyperparameter names is unchanged (the type rule
speaks of "each hyperparameter" in both jobs, which needs the same names), and locally "the
same input data" is the same channels with the same sources.

What "warm" means in a rehearsal: a parent is an earlier rehearsal's journal, read into
`Parent` (its shape and its finished jobs as `ParentJob`s). The parents' jobs count against
the limit, the overall best is taken over the parents' and the child's jobs (AMT's
OverallBestTrainingJob, for IdenticalDataAndAlgorithm), and with early stopping Auto the
parents' curves are "previous training jobs" of the median rule. Random and Grid draw as they
would cold: AMT's random search does not depend on earlier results, so neither does ours.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from smtune.containers.status import TuningJobStatus
from smtune.tuning.amt.ranges import Choice, FloatRange, IntRange, Range
from smtune.tuning.amt.strategy import score

MAX_PARENTS = 5  # botocore: ParentHyperParameterTuningJobs max 5
MAX_CHANGES = 10  # guide: tunable -> static changes plus static value changes
MAX_TRAINING_JOBS = 500  # guide: parents' jobs count against a tuning job's 500


class WarmStartType(enum.Enum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


TERMINAL = frozenset({TuningJobStatus.COMPLETED, TuningJobStatus.STOPPED, TuningJobStatus.FAILED})


@dataclass(frozen=True)
class TuningShape:
    """What warm start compares between a tuning job and its parents.

    channels: Channel name -> its source (an S3 URI, or a local folder in a rehearsal).
    """

    name: str
    objective_metric: str
    maximize: bool
    static: Mapping[str, str]
    tunable: Mapping[str, Range]
    image: str
    channels: Mapping[str, str]


@dataclass(frozen=True)
class ParentJob:
    """One finished training job, as a journal keeps it.

    curve: (resource, objective) pairs in order; empty when only the final value is known.
    """

    tuning_job: str
    training_job: str
    hyperparameters: Mapping[str, float | int | str]
    objective: float | None
    curve: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class Parent:
    shape: TuningShape
    status: TuningJobStatus
    observations: tuple[ParentJob, ...] = ()


def _kind(rng: Range) -> str:
    return {FloatRange: "continuous", IntRange: "integer", Choice: "categorical"}[type(rng)]


def _changes(child: TuningShape, parent: TuningShape) -> int:
    count = 0
    for name, rng in parent.tunable.items():
        if name in child.static:
            count += len(rng.values) if isinstance(rng, Choice) else 1
    for name, value in parent.static.items():
        if name in child.static and child.static[name] != value:
            count += 2
    return count


def _parent_problems(child: TuningShape, parent: Parent, kind: WarmStartType) -> list[str]:
    p = parent.shape
    where = f"WarmStartConfig.ParentHyperParameterTuningJobs[{p.name}]"
    found = []
    if parent.status not in TERMINAL:
        found.append(
            f"{where}: status {parent.status.value}; a parent must have ended (Completed, "
            "Stopped or Failed)"
        )
    if (p.objective_metric, p.maximize) != (child.objective_metric, child.maximize):
        found.append(
            f"{where}: objective {_objective(p)} differs from this job's {_objective(child)}; "
            "warm start needs the same objective metric"
        )
    parent_names = set(p.static) | set(p.tunable)
    child_names = set(child.static) | set(child.tunable)
    if len(parent_names) != len(child_names):
        found.append(
            f"{where}: {len(parent_names)} static plus tunable hyperparameters, this job "
            f"{len(child_names)}; warm start keeps their total unchanged"
        )
    if parent_names != child_names:
        found.append(
            f"{where}: hyperparameter names differ (only in the parent: "
            f"{sorted(parent_names - child_names)}, only here: "
            f"{sorted(child_names - parent_names)}); warm start keeps the same hyperparameters"
        )
    for name in sorted(set(p.tunable) & set(child.tunable)):
        was, now = _kind(p.tunable[name]), _kind(child.tunable[name])
        if was != now:
            found.append(
                f"{where}: hyperparameter {name} was {was}, is {now}; warm start keeps each "
                "hyperparameter's type"
            )
    changes = _changes(child, p)
    if changes > MAX_CHANGES:
        found.append(
            f"{where}: {changes} changes (tunable to static, one per categorical value, and 2 "
            f"per changed static value); warm start allows at most {MAX_CHANGES}"
        )
    if kind is WarmStartType.IDENTICAL_DATA_AND_ALGORITHM:
        if p.image != child.image:
            found.append(
                f"{where}: image {p.image!r}, this job {child.image!r}; "
                "IdenticalDataAndAlgorithm needs the same training image (TransferLearning "
                "allows another)"
            )
        if dict(p.channels) != dict(child.channels):
            found.append(
                f"{where}: input channels {dict(sorted(p.channels.items()))}, this job "
                f"{dict(sorted(child.channels.items()))}; IdenticalDataAndAlgorithm needs the "
                "same input data (TransferLearning allows other data)"
            )
    return found


def _objective(shape: TuningShape) -> str:
    return f"{'Maximize' if shape.maximize else 'Minimize'} {shape.objective_metric}"


def warm_start_problems(
    child: TuningShape,
    max_training_jobs: int | None,
    parents: Sequence[Parent],
    kind: WarmStartType,
) -> list[str]:
    """Every reason `child` cannot warm-start from `parents`, all at once."""
    found = []
    if not 1 <= len(parents) <= MAX_PARENTS:
        found.append(
            f"WarmStartConfig.ParentHyperParameterTuningJobs has {len(parents)} parents: must "
            f"be 1 to {MAX_PARENTS}"
        )
    for parent in parents:
        found.extend(_parent_problems(child, parent, kind))
    inherited = sum(len(parent.observations) for parent in parents)
    if max_training_jobs is not None and inherited + max_training_jobs > MAX_TRAINING_JOBS:
        found.append(
            f"ResourceLimits.MaxNumberOfTrainingJobs={max_training_jobs} plus the parents' "
            f"{inherited} training jobs is {inherited + max_training_jobs}: at most "
            f"{MAX_TRAINING_JOBS}, since the parents' jobs count against the limit"
        )
    return found


def overall_best(observations: Iterable[ParentJob], maximize: bool) -> ParentJob | None:
    """The best job with an objective among `observations` (parents' and this job's): AMT's
    OverallBestTrainingJob. On a tie the first one wins."""
    best: ParentJob | None = None
    for observation in observations:
        if observation.objective is None:
            continue
        if best is None or score(observation.objective, maximize) > score(best.objective, maximize):
            best = observation
    return best
