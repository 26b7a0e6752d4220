"""Warm start on this machine: earlier rehearsals' journals as parents, and what a child
rehearsal takes from them.

AMT's rules are `tuning.amt.warm_start`'s, each citing its source; this module gives
them their inputs. Each rehearsal records in its journal what it needs to act as a parent:
its shape (the tuning job's name, objective, static hyperparameters, tunable ranges, image,
and channels with their local folders, which stand for S3 prefixes here) and its state
(InProgress until its run returns; a journal left by a killed or interrupted rehearsal is
not a parent, as a tuning job in progress is not).

What "warm" means in a rehearsal (AMT does not publish how its strategies use the parents):
- the parents' jobs count against AMT's 500 training jobs of a tuning job;
- Hyperband: each parent job's objective at each resource that is a rung of this job's
  brackets is recorded at that rung before the first job starts
  (`HyperbandScheduler.record_previous`), so a new job goes on at a rung only if it ranks in
  the best 1/eta of the parents' and this job's values there. The draws are unchanged (the
  same seed draws the same configurations): what the parents change is which jobs go on;
- early stopping Auto (Random): the parents' curves are "previous training jobs" of the median
  rule (`seed_median_rule`);
- IdenticalDataAndAlgorithm: the best job over the parents' and this job's is reported as
  AMT's OverallBestTrainingJob; with TransferLearning the data may differ, so, as on AMT, only
  this job's own best is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from smtune.containers.status import JobStatus, TuningJobStatus
from smtune.entrypoints.contract.metrics import Direction
from smtune.tuning.amt import warm_start as amt  # AMT's rules, pure
from smtune.tuning.amt.ranges import api_ranges, described_ranges
from smtune.tuning.amt.warm_start import Parent, ParentJob, TuningShape
from smtune.tuning.journal import Journal
from smtune.tuning.plan import TuningPlan, shape_of
from smtune.tuning.rehearsal.accounting import Summary
from smtune.tuning.schedulers.base import Scheduler
from smtune.tuning.schedulers.hyperband import HyperbandScheduler
from smtune.tuning.schedulers.jobs import Unbracketed
from smtune.tuning.schedulers.median_stopping import MedianStoppingRule
from smtune.tuning.spec import SpecError

# The journal's meta keys: its shape, its state, and the parents it was warm-started from.
SHAPE, STATE, PARENTS = "warm_start_shape", "warm_start_state", "warm_start_parents"


# -- the journal side ----------------------------------------------------------------------


def record_start(journal: Journal, shape: TuningShape, parents: Sequence[Parent]) -> None:
    """The rehearsal begins (or resumes): its shape, its parents, and that it has not ended.
    A resumed rehearsal needs the parents it began with: they decided its jobs so far."""
    names = json.dumps([parent.shape.name for parent in parents])
    began = journal.meta(PARENTS)
    if began is not None and began != names:
        raise SpecError(
            f"--resume --journal {journal.path}",
            [
                f"it was warm-started from {', '.join(json.loads(began)) or 'no parent'}, now "
                f"from {', '.join(json.loads(names)) or 'no parent'}: resume with the "
                "--warm-start-from journals it began with"
            ],
        )
    # One transaction: a kill between the writes would leave a finished journal saying
    # Completed beside a shape (or parents) its jobs never had, a parent it is not.
    with journal.transaction():
        journal.set_meta(PARENTS, names)
        journal.set_meta(
            SHAPE,
            json.dumps(
                {
                    "name": shape.name,
                    "objective_metric": shape.objective_metric,
                    "maximize": shape.maximize,
                    "static": dict(shape.static),
                    "tunable": api_ranges(shape.tunable),  # AMT's form, as a described parent
                    "image": shape.image,
                    "channels": dict(shape.channels),
                }
            ),
        )
        journal.set_meta(STATE, TuningJobStatus.IN_PROGRESS.value)


def record_end(journal: Journal) -> None:
    """The rehearsal ran to its end: from now on its journal can be a parent."""
    journal.set_meta(STATE, TuningJobStatus.COMPLETED.value)


def read_parent(path: Path) -> Parent:
    """The parent an earlier rehearsal's journal describes; SpecError when it holds none."""
    where = f"--warm-start-from {path}"
    if not path.is_file():
        raise SpecError(where, ["no such journal: give the journal of an earlier rehearsal"])
    journal = Journal(path)
    try:
        written = journal.meta(SHAPE)
        if written is None:
            raise SpecError(
                where,
                [
                    "the journal records no warm start shape (a rehearsal from before warm "
                    "start was recorded, or not a rehearsal's journal): rehearse the parent again"
                ],
            )
        data = json.loads(written)
        shape = TuningShape(
            name=data["name"],
            objective_metric=data["objective_metric"],
            maximize=data["maximize"],
            static=data["static"],
            tunable=described_ranges(data["tunable"]),
            image=data["image"],
            channels=data["channels"],
        )
        records = journal.jobs()
        state = TuningJobStatus(journal.meta(STATE) or TuningJobStatus.IN_PROGRESS.value)
        if any(record.status is JobStatus.IN_PROGRESS for record in records):
            state = TuningJobStatus.IN_PROGRESS  # resumed, or killed while the state said ended
        curves = journal.curves()
    finally:
        journal.close()
    observations = tuple(
        ParentJob(
            tuning_job=shape.name,
            training_job=record.name,
            hyperparameters=record.hyperparameters,
            objective=curves[record.name][-1].value if record.name in curves else None,
            curve=tuple(curves.get(record.name, ())),
        )
        for record in records
        if record.status.ended
    )
    return Parent(shape, state, observations)


def parents_from_journals(
    plan: TuningPlan, channels: Mapping[str, str], journals: Sequence[Path], source: str
) -> tuple[Parent, ...]:
    """The parents of `plan` from earlier rehearsals' journals, checked against AMT's rules
    and the spec's warm_start; a SpecError lists every problem."""
    if plan.warm_start is None:
        if journals:
            raise SpecError(
                source,
                [
                    "--warm-start-from is given but the spec has no warm_start: add one naming "
                    "the parents"
                ],
            )
        return ()
    problems: list[str] = []
    parents: dict[str, Parent] = {}
    for path in journals:
        try:
            parent = read_parent(path)
        except SpecError as error:
            problems += [f"--warm-start-from {path}: {p}" for p in error.problems]
            continue
        name = parent.shape.name
        if name not in plan.warm_start.parents:
            problems.append(
                f"--warm-start-from {path}: holds the tuning job {name!r}, which "
                f"warm_start.parents does not name ({', '.join(plan.warm_start.parents)})"
            )
        elif name in parents:
            problems.append(f"--warm-start-from {path}: a second journal of {name!r}: give one")
        else:
            parents[name] = parent
    problems += [
        f"warm_start.parents: {name!r} has no journal: give --warm-start-from with the journal "
        "of its rehearsal"
        for name in plan.warm_start.parents
        if name not in parents
    ]
    ordered = tuple(parents[n] for n in plan.warm_start.parents if n in parents)
    if ordered:  # AMT's rules, on the parents found
        problems += amt.warm_start_problems(
            shape_of(plan, channels), plan.limits.max_jobs, ordered, plan.warm_start.type
        )
    if problems:
        raise SpecError(source, problems)
    return ordered


# -- what the child takes ------------------------------------------------------------------


def seed_hyperband(scheduler: HyperbandScheduler, parents: Iterable[Parent]) -> int:
    """Record every parent job's values at this scheduler's rungs; returns how many."""
    count = 0
    for parent in parents:
        for observation in parent.observations:
            for resource, value in observation.curve:
                count += scheduler.record_previous(resource, value)
    return count


def seed(scheduler: Scheduler, parents: Sequence[Parent]) -> None:
    """What the parents tell `scheduler`: Hyperband's rungs, or the median rule's previous
    jobs (Random or Grid with early stopping Auto); nothing to a scheduler that uses neither."""
    if isinstance(scheduler, HyperbandScheduler):
        seed_hyperband(scheduler, parents)
    elif isinstance(scheduler, Unbracketed) and scheduler.median_rule is not None:
        seed_median_rule(scheduler.median_rule, parents)


def seed_median_rule(rule: MedianStoppingRule, parents: Iterable[Parent]) -> None:
    """The parents' jobs become "previous training jobs" of the median rule."""
    for parent in parents:
        for observation in parent.observations:
            if observation.curve:
                rule.add_previous(
                    f"{observation.tuning_job}/{observation.training_job}", observation.curve
                )


def with_parents(summary: Summary, plan: TuningPlan, parents: Sequence[Parent]) -> Summary:
    """The rehearsal's summary with its parents and, for IdenticalDataAndAlgorithm, AMT's
    OverallBestTrainingJob over the parents' jobs and this one's."""
    if plan.warm_start is None:
        return summary
    found: ParentJob | None = None
    if plan.warm_start.type is amt.WarmStartType.IDENTICAL_DATA_AND_ALGORITHM:
        own = (
            [ParentJob(plan.name, summary.best_job, {}, summary.best_objective)]
            if summary.best_job is not None
            else []
        )
        every = [o for parent in parents for o in parent.observations] + own
        found = amt.overall_best(every, plan.objective.direction is Direction.MAXIMIZE)
    return replace(
        summary,
        warm_start_type=plan.warm_start.type.value,
        parents=tuple(p.shape.name for p in parents),
        parent_jobs=sum(len(p.observations) for p in parents),
        overall_best_job=found.training_job if found else None,
        overall_best_objective=found.objective if found else None,
    )


def report_lines(summary: Summary) -> list[str]:
    """What a rehearsal's Markdown report says of its warm start (nothing for a cold one)."""
    if not summary.parents:
        return []
    lines = [
        "",
        f"Warm start ({summary.warm_start_type}) from {', '.join(summary.parents)}: "
        f"{summary.parent_jobs} parent training jobs.",
    ]
    if summary.overall_best_job is not None:
        lines.append(
            f"Overall best job (parents included): {summary.overall_best_job}, objective "
            f"{summary.overall_best_objective:.6g}."
        )
    return lines
